"""How good an SAE is: reconstruction (L0, explained variance, MSE, dead latents) and the language
model's loss with the SAE spliced in at its hook, against the clean and the zero-ablated loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


class Autoencoder(Protocol):
    def encode(self, x: torch.Tensor) -> torch.Tensor: ...
    def decode(self, f: torch.Tensor) -> torch.Tensor: ...


def reconstruction_metrics(x: torch.Tensor, latents: torch.Tensor, x_hat: torch.Tensor) -> dict[str, float]:
    """x, x_hat: (tokens, d_in); latents: (tokens, d_sae).

    L0: mean number of active latents per token. MSE: mean squared error per element.
    Explained variance: 1 − Σ‖x − x̂‖² / Σ‖x − mean(x)‖² over tokens. Dead: latents never active.
    """
    x, x_hat, latents = x.double(), x_hat.double(), latents.double()
    residual = ((x - x_hat) ** 2).sum()
    variance = ((x - x.mean(dim=0)) ** 2).sum()
    return {
        "l0": float((latents > 0).sum(dim=1).double().mean()),
        "mse": float(residual / x.numel()),
        "explained_variance": float(1 - residual / variance),
        "dead_latents": int(((latents > 0).sum(dim=0) == 0).sum()),
    }


def loss_recovered(clean: float, spliced: float, ablated: float) -> float:
    """(L_ablated − L_spliced) / (L_ablated − L_clean): 1 for a perfect SAE, 0 for zero ablation."""
    return (ablated - spliced) / (ablated - clean)


@dataclass(frozen=True)
class Prefix:
    """The residual stream entering block ``layer`` (windows, context, d_model) for fixed windows: a
    splice at a hook of that block or a later one runs only the blocks from ``layer`` on."""

    layer: int
    residual: torch.Tensor


@torch.no_grad()
def prefix_for(hooked, hook: str, tokens: torch.Tensor, batch_size: int = 16) -> Prefix:
    """:class:`Prefix` of ``tokens`` (windows, context) for a splice at ``hook`` (``blocks.<i>.…``)."""
    layer = int(hook.split(".")[1])
    return Prefix(layer, torch.cat([hooked(chunk, stop_at_layer=layer) for chunk in tokens.split(batch_size)]))


@torch.no_grad()
def spliced_loss(
    hooked, hook: str, sae: Autoencoder, tokens: torch.Tensor, keep: torch.Tensor | None = None, batch_size: int = 16, prefix: Prefix | None = None
) -> float:
    """Mean next-token loss on ``tokens`` (windows, context) with the SAE's reconstruction spliced in
    at ``hook``; latents where ``keep`` (d_sae,) is False are zeroed before decoding. With ``prefix``
    (the same windows' residual entering the hook's block) the blocks before it are not run again:
    the same loss, for the many splices one model gets."""

    def splice(act: torch.Tensor, hook) -> torch.Tensor:
        latents = sae.encode(act)
        return sae.decode(latents if keep is None else latents * keep.to(latents.dtype))

    total = 0.0
    for k, chunk in enumerate(tokens.split(batch_size)):
        if prefix is None:
            loss = hooked.run_with_hooks(chunk, return_type="loss", fwd_hooks=[(hook, splice)])
        else:
            start = prefix.residual[k * batch_size : k * batch_size + len(chunk)]
            loss = hooked.run_with_hooks(start, start_at_layer=prefix.layer, tokens=chunk, return_type="loss", fwd_hooks=[(hook, splice)])
        total += len(chunk) / len(tokens) * loss.item()
    return total


@torch.no_grad()
def evaluate_sae(hooked, hook: str, sae: Autoencoder, tokens: torch.Tensor, batch_size: int = 16) -> dict[str, float]:
    """Reconstruction and splice metrics of ``sae`` at ``hook`` on fixed windows ``tokens`` (windows, context)."""
    xs, fs, x_hats = [], [], []
    clean = spliced = ablated = 0.0
    for chunk in tokens.split(batch_size):
        clean_loss, cache = hooked.run_with_cache(chunk, names_filter=hook, return_type="loss")
        x = cache[hook]
        latents = sae.encode(x)
        x_hat = sae.decode(latents)
        xs.append(x.flatten(0, -2)), fs.append(latents.flatten(0, -2)), x_hats.append(x_hat.flatten(0, -2))
        weight = len(chunk) / len(tokens)
        clean += weight * clean_loss.item()
        spliced += weight * hooked.run_with_hooks(chunk, return_type="loss", fwd_hooks=[(hook, lambda act, hook: sae.decode(sae.encode(act)))]).item()
        ablated += weight * hooked.run_with_hooks(chunk, return_type="loss", fwd_hooks=[(hook, lambda act, hook: torch.zeros_like(act))]).item()
    metrics = reconstruction_metrics(torch.cat(xs), torch.cat(fs), torch.cat(x_hats))
    metrics.update(ce_clean=clean, ce_spliced=spliced, ce_ablated=ablated, loss_recovered=loss_recovered(clean, spliced, ablated))
    return metrics


@torch.no_grad()
def sweep_metrics(hooked, hook: str, sae: Autoencoder, tokens: torch.Tensor, batch_size: int = 16) -> dict[str, float]:
    """What a dictionary-size sweep reads off one SAE at ``hook`` on fixed windows ``tokens``
    (windows, context): :func:`reconstruction_metrics`, the normalised MSE Σ‖x − x̂‖²/Σ‖x − x̄‖²
    (1 − explained variance: the error of predicting the mean is 1), the clean and the spliced
    next-token loss and the mean KL divergence KL(clean ‖ spliced) of the next-token distributions."""
    xs, fs, x_hats = [], [], []
    clean = spliced = divergence = 0.0
    for chunk in tokens.split(batch_size):
        clean_logits, cache = hooked.run_with_cache(chunk, names_filter=hook)
        x = cache[hook]
        latents = sae.encode(x)
        x_hat = sae.decode(latents)
        xs.append(x.flatten(0, -2)), fs.append(latents.flatten(0, -2)), x_hats.append(x_hat.flatten(0, -2))
        # the blocks before the hook are deterministic, so the activation there is x again: splice x̂ as computed
        spliced_logits = hooked.run_with_hooks(chunk, fwd_hooks=[(hook, lambda act, hook, x_hat=x_hat: x_hat)])
        clean_lp, spliced_lp = clean_logits[:, :-1].double().log_softmax(-1), spliced_logits[:, :-1].double().log_softmax(-1)
        target = chunk[:, 1:, None]
        weight = len(chunk) / len(tokens)
        clean -= weight * float(clean_lp.gather(-1, target).mean())
        spliced -= weight * float(spliced_lp.gather(-1, target).mean())
        divergence += weight * float((clean_lp.exp() * (clean_lp - spliced_lp)).sum(-1).mean())
    metrics = reconstruction_metrics(torch.cat(xs), torch.cat(fs), torch.cat(x_hats))
    metrics.update(normalised_mse=1.0 - metrics["explained_variance"], ce_clean=clean, ce_spliced=spliced, kl=divergence)
    return metrics
