"""The book's computations as plain commands, without Jupyter: every chapter's computation
(``run``), a preset's job plan, and one job at a time, so that jobs can be fanned out (a Slurm job
array, one process per GPU) and a language model can be trained data-parallel under ``torchrun``.
Commands write the same cached folders and results files the chapters do, so a book built
afterwards finds every stage done.

    python -m helpers.pipeline run   --preset quick --chapters 03,04,05
    python -m helpers.pipeline plan  --preset paper
    torchrun --nproc_per_node=4 -m helpers.pipeline train --preset paper --model L8-d768
    python -m helpers.pipeline sae   --preset paper --model L8-d768 --hook blocks.6.hook_resid_pre
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from helpers import chapters
from helpers.chapters import equal_n, geometry, model_suite, sae_suite
from helpers.chapters.configs import CONFIGS, LanguageModelsConfig, SAEsConfig, UniversalityConfig, config_for, load_preset
from helpers.chapters.model_suite import PlannedModel
from helpers.core import hardware, paths
from helpers.core.parameters import ParameterError
from helpers.core.provenance import ChapterRun
from helpers.lm import distributed
from helpers.lm.corpus import Corpus, load_corpus
from helpers.lm.family import to_hooked
from helpers.lm.tokens import token_key
from helpers.lm.training import load_trained, model_key, train_model
from helpers.sae.training import map_hook, sae_key


@dataclass(frozen=True)
class Job:
    """One independent unit of work: a language model, or one SAE of a trained model at one hook."""

    kind: str  # "model" or "sae"
    model: str
    hook: str  # "" for a model
    replicate: int  # the SAE's seed replicate (0: chapter 4's); 0 for a model
    key: str
    folder: Path
    needs: str  # the model job an SAE job waits for; "" for a model

    @property
    def done(self) -> bool:
        return (self.folder / "summary.json").exists()

    def command(self, preset: str) -> str:
        if self.kind == "model":
            return f"python -m helpers.pipeline train --preset {preset} --model {self.model}"
        return f"python -m helpers.pipeline sae --preset {preset} --model {self.model} --hook {self.hook}" + (
            f" --replicate {self.replicate}" if self.replicate else ""
        )


class MissingInputError(RuntimeError):
    """A job's input (another job's output) is not there yet; the message names the job to run first."""


def configs(preset: str, runs_dir: str | None) -> tuple[LanguageModelsConfig, SAEsConfig, UniversalityConfig]:
    """Chapters 3, 4 and 5's validated configs in ``preset``."""

    return tuple(config_for(preset, chapter, runs_dir=runs_dir or "") for chapter in ("03_language_models", "04_saes", "05_universality"))


def planned_models(preset: str, runs_dir: str | None = None) -> dict[str, PlannedModel]:
    """Every language model the book trains, by name: chapter 3's, then chapter 7's other shapes and
    seeds, then chapter 8's further depths."""
    lm_cfg, _, _ = configs(preset, runs_dir)
    eq_cfg = config_for(preset, "07_equal_n", runs_dir=runs_dir or "")
    geometry_cfg = config_for(preset, "08_geometry", runs_dir=runs_dir or "")
    models: dict[str, PlannedModel] = {}
    for planned in [*model_suite.plan(lm_cfg), *equal_n.plan(eq_cfg), *geometry.plan(geometry_cfg)]:
        models.setdefault(planned.name, planned)
    return models


def plan(preset: str, runs_dir: str | None = None, corpus: Corpus | None = None) -> list[Job]:
    """Every language model (chapters 3, 7 and 8), then every SAE of chapters 4 and 5 (one per model of
    chapter 3 and hook, and the extra seeds at chapter 5's site for the models it replicates), each
    with its cache key and folder (``corpus``: the preset's, when already read). Chapters 6 and 7 train
    their own SAEs when they run."""
    lm_cfg, sae_cfg, u_cfg = configs(preset, runs_dir)
    tokens = token_key(corpus or load_corpus(lm_cfg.corpus), lm_cfg.d_vocab, lm_cfg.val_fraction)
    models: dict[str, Job] = {}
    for name, planned in planned_models(preset, runs_dir).items():
        key = model_key(planned.shape, tokens, model_suite.settings_for(lm_cfg, planned.seed))
        models[name] = Job("model", name, "", 0, key, paths.models_dir(preset, runs_dir) / f"{name}-{key}", "")
    chapter_3 = {p.name: p for p in model_suite.plan(lm_cfg)}
    replicated = sae_suite.replicated_models(sae_cfg)
    saes = []
    for name, planned in chapter_3.items():
        extra = [(u_cfg.analysis_site, r) for r in range(1, u_cfg.sae_seeds)] if name in replicated else []
        for requested, replicate in [(hook, 0) for hook in sae_cfg.hooks] + extra:
            hook = map_hook(requested, lm_cfg.n_layers, planned.shape.n_layers)
            settings = dataclasses.replace(sae_suite.settings_for(sae_cfg), seed=sae_suite.sae_seed(sae_cfg, planned.seed, replicate))
            key = sae_key(models[name].key, hook, settings, tokens)
            folder = paths.run_dir(preset, runs_dir) / "saes" / name / f"{hook}-{key}"
            saes.append(Job("sae", name, requested, replicate, key, folder, name))
    return [*models.values(), *saes]


def find(jobs: list[Job], kind: str, model: str, hook: str = "", replicate: int = 0) -> Job:
    """The job asked for, or a :class:`ParameterError` naming the argument and what the plan allows."""
    of_kind = [j for j in jobs if j.kind == kind]
    if model not in {j.model for j in of_kind}:
        raise ParameterError("model", model, "one of " + ", ".join(dict.fromkeys(j.model for j in of_kind)))
    if kind == "sae":
        hooks = {j.hook for j in of_kind if j.model == model}
        if hook not in hooks:
            raise ParameterError("hook", hook, "one of " + ", ".join(sorted(hooks)))
        replicates = sorted(j.replicate for j in of_kind if j.model == model and j.hook == hook)
        if replicate not in replicates:
            raise ParameterError("replicate", replicate, "one of " + ", ".join(map(str, replicates)))
    return next(j for j in of_kind if j.model == model and j.hook == hook and j.replicate == replicate)


def train(preset: str, model: str, runs_dir: str | None = None, micro_batch: int = 0) -> Path:
    """Train one language model (every process of a torchrun world calls this); returns its folder."""
    world = distributed.from_environment()
    lm_cfg, _, _ = configs(preset, runs_dir)
    distributed.check_batch(world, lm_cfg.batch_size, micro_batch)
    corpus = load_corpus(lm_cfg.corpus)  # read once: for the plan's keys and for the tokens
    job = find(plan(preset, runs_dir, corpus), "model", model)  # all checks before any file is written
    planned = planned_models(preset, runs_dir)[model]
    device = distributed.start(world, hardware.resolve_device(lm_cfg.device))
    try:
        if not world.is_main:
            distributed.barrier(world)  # rank 0 prepares the tokens; the others then read them
        _, data = model_suite.prepare_data(lm_cfg, corpus)
        if world.is_main:
            distributed.barrier(world)
        trained = train_model(
            planned.name,
            planned.shape,
            data,
            model_suite.settings_for(lm_cfg, planned.seed),
            paths.models_dir(preset, runs_dir),
            device,
            world=world,
            micro_batch=micro_batch,
        )
    finally:
        distributed.stop(world)
    assert trained.folder == job.folder
    return trained.folder


def train_one_sae(preset: str, model: str, hook: str, replicate: int = 0, runs_dir: str | None = None) -> Path:
    """Train one SAE of a trained model; stops with the command to run first when the model is missing."""
    lm_cfg, sae_cfg, _ = configs(preset, runs_dir)
    corpus = load_corpus(lm_cfg.corpus)
    jobs = plan(preset, runs_dir, corpus)
    job = find(jobs, "sae", model, hook, replicate)
    model_job = find(jobs, "model", model)
    if not model_job.done:
        raise MissingInputError(f"the SAE of {model} at {hook} needs its model first: {model_job.command(preset)}")
    _, data = model_suite.prepare_data(lm_cfg, corpus)
    seed = planned_models(preset, runs_dir)[model].seed
    device = hardware.resolve_device(sae_cfg.device)
    trained = load_trained(model, model_job.folder, device)
    folder = sae_suite.train_one(
        sae_cfg, model, trained, to_hooked(trained.model, data.tokenizer, device), hook, sae_suite.sae_seed(sae_cfg, seed, replicate), data, device
    )
    assert folder == job.folder, (folder, job.folder)
    return folder


def chapter_names(selection: str | None) -> list[str]:
    """Chapters named by ``selection`` (``"03,04"`` or full names, comma-separated), in book order;
    every chapter when ``None``. Raises :class:`ParameterError` naming ``chapters`` on an unknown one."""
    if selection is None:
        return list(CONFIGS)
    by_number = {name.split("_")[0]: name for name in CONFIGS}
    wanted = set()
    for item in (part.strip() for part in selection.split(",")):
        name = by_number.get(item.zfill(2) if item.isdigit() else item, item)
        if name not in CONFIGS:
            raise ParameterError("chapters", item, "comma-separated chapter numbers or names: " + ", ".join(CONFIGS))
        wanted.add(name)
    return [name for name in CONFIGS if name in wanted]


def run_chapters(preset: str, selection: str | None = None, runs_dir: str | None = None) -> list[Path]:
    """Each selected chapter's computation in book order, exactly as its notebook calls it, writing
    ``runs/<preset>/results/<chapter>/`` (``provenance.json`` last); returns those folders. The whole
    preset and the selection are checked before any work starts. A chapter that reads an earlier one's
    results stops with the chapter to run first when they are missing."""
    names = chapter_names(selection)
    load_preset(preset)
    configs = [config_for(preset, name, runs_dir=runs_dir or "") for name in names]
    folders = []
    for cfg in configs:
        started = time.perf_counter()
        print(f"[{preset}] {cfg.chapter}: computing", flush=True)
        run = ChapterRun(cfg)
        chapters.module(cfg.chapter).compute(cfg, run)
        run.close()
        print(f"[{preset}] {cfg.chapter}: done in {time.perf_counter() - started:.1f} s", flush=True)
        folders.append(run.results)
    return folders


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.pipeline", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "every chapter's computation (or --chapters), writing the chapters' results files"),
        ("plan", "list the preset's independent jobs with their cache keys and state"),
        ("train", "train one language model (under torchrun: data-parallel)"),
        ("sae", "train one SAE of a trained model at one hook"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--preset", required=True, help="a preset name (a file in presets/)")
        command.add_argument("--runs-dir", default=None, help="folder for runs/<preset>/ (default: <project>/runs)")
        if name == "run":
            command.add_argument("--chapters", default=None, help="comma-separated chapter numbers or names, e.g. 03,04,05 (default: all)")
        if name in ("train", "sae"):
            command.add_argument("--model", required=True, help="a model name from `plan`, e.g. L8-d128")
        if name == "train":
            command.add_argument(
                "--micro-batch", type=int, default=0, help="sequences per forward pass on each process (gradient accumulation); 0: its whole share"
            )
        if name == "sae":
            command.add_argument("--hook", required=True, help="a hook of chapter 4 (or chapter 5's site), as `plan` lists it")
            command.add_argument("--replicate", type=int, default=0, help="the SAE's seed replicate (0: chapter 4's)")
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            for folder in run_chapters(args.preset, args.chapters, args.runs_dir):
                print(folder)
        elif args.command == "plan":
            jobs = plan(args.preset, args.runs_dir)
            print(f"{'state':8} {'kind':6} {'key':16} command")
            for job in jobs:
                print(f"{'done' if job.done else 'todo':8} {job.kind:6} {job.key:16} {job.command(args.preset)}")
        elif args.command == "train":
            folder = train(args.preset, args.model, args.runs_dir, args.micro_batch)
            if distributed.from_environment().is_main:  # one line on stdout, however many processes
                print(folder)
        else:
            print(train_one_sae(args.preset, args.model, args.hook, args.replicate, args.runs_dir))
    except (ParameterError, MissingInputError, FileNotFoundError) as error:
        parser.exit(2, f"{parser.prog} {args.command}: error: {error}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
