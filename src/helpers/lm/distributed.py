"""Data-parallel training under ``torchrun``: which process this is, its rows of each global batch,
and the few collective operations the training loop needs (PyTorch's DistributedDataParallel does
the gradients). A process started without ``torchrun`` is a world of one, and nothing here touches
``torch.distributed`` for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from helpers.core.parameters import ParameterError


@dataclass(frozen=True)
class World:
    """This process's place among ``size`` processes (torchrun's ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes files and shows progress."""
        return self.rank == 0

    def rows(self, batch_size: int) -> slice:
        """The rows of a (batch_size, …) global batch that this process computes: a contiguous share."""
        share = batch_size // self.size
        return slice(self.rank * share, (self.rank + 1) * share)


SINGLE = World()


def from_environment() -> World:
    """The world torchrun describes in the environment, or :data:`SINGLE` outside torchrun."""
    if "WORLD_SIZE" not in os.environ:
        return SINGLE
    return World(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))


def check_batch(world: World, batch_size: int, micro_batch: int) -> None:
    """The global batch must split evenly over the processes, and a micro-batch must be positive or 0 (off)."""
    if batch_size % world.size:
        raise ParameterError("nproc_per_node", world.size, f"a divisor of the preset's batch_size ({batch_size})")
    if micro_batch < 0:
        raise ParameterError("micro_batch", micro_batch, "a number of sequences ≥ 1, or 0 for the whole share at once")


def start(world: World, device: torch.device) -> torch.device:
    """Join the process group (``nccl`` on CUDA, ``gloo`` on CPU); returns this process's device."""
    if world.size == 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=world.rank, world_size=world.size)
    return device


def stop(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def barrier(world: World) -> None:
    """Wait until every process gets here (for example, until rank 0 has written a file)."""
    if world.size > 1:
        dist.barrier()


def mean(value: float, world: World) -> float:
    """The mean of ``value`` over the processes (every process gets it)."""
    if world.size == 1:
        return value
    total = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(total)
    return float(total.item()) / world.size
