"""SAEs: splice evaluation against an independent forward pass, metrics by hand, SAELens round trip."""

import numpy as np
import pytest
import torch

from helpers.lm.family import ModelShape, to_hooked
from helpers.lm.gpt import GPT
from helpers.sae.evaluation import evaluate_sae, loss_recovered, prefix_for, reconstruction_metrics, spliced_loss
from helpers.sae.training import SAESettings, load_sae, map_hook, train_sae

torch.manual_seed(0)


class LinearSAE:
    """A fixed random ReLU autoencoder: encode(x) = ReLU(x W + b), decode(f) = f Wᵀ."""

    def __init__(self, d_in: int, d_sae: int) -> None:
        generator = torch.Generator().manual_seed(1)
        self.W = torch.randn(d_in, d_sae, generator=generator) / d_in**0.5
        self.b = torch.randn(d_sae, generator=generator) * 0.1

    def encode(self, x):
        return torch.relu(x @ self.W + self.b)

    def decode(self, f):
        return f @ self.W.T


class Identity:
    def encode(self, x):
        return x

    def decode(self, f):
        return f


class Zero(Identity):
    def decode(self, f):
        return torch.zeros_like(f)


@pytest.fixture(scope="module")
def model_pair():
    model = GPT(ModelShape(3, 32), n_ctx=16, d_vocab=50, seed=0).eval()
    tokens = torch.randint(0, 50, (6, 16), generator=torch.Generator().manual_seed(2))
    return model, to_hooked(model), tokens


def independent_loss(model: GPT, tokens: torch.Tensor, layer: int, site: str, replace) -> float:
    """Next-token loss of the lean module with a PyTorch hook doing the splice (no TransformerLens)."""
    block = model.transformer.h[layer]
    if site == "mlp_out":
        handle = block.mlp.register_forward_hook(lambda module, args, output: replace(output))
    else:  # resid_pre: the block's input
        handle = block.register_forward_pre_hook(lambda module, args: (replace(args[0]),))
    try:
        with torch.no_grad():
            return model.loss(tokens[:, :-1], tokens[:, 1:]).item()
    finally:
        handle.remove()


@pytest.mark.parametrize("site", ["mlp_out", "resid_pre"])
def test_splice_changes_the_loss_exactly_as_an_independent_forward_pass(model_pair, site):
    model, hooked, tokens = model_pair
    sae = LinearSAE(32, 64)
    metrics = evaluate_sae(hooked, f"blocks.1.hook_{site}", sae, tokens, batch_size=4)
    # TransformerLens's loss is the mean over positions 0..n-2 of the next-token loss, as below
    assert metrics["ce_clean"] == pytest.approx(independent_loss(model, tokens, 1, site, lambda a: a), abs=1e-5)
    spliced = independent_loss(model, tokens, 1, site, lambda a: sae.decode(sae.encode(a)))
    assert metrics["ce_spliced"] == pytest.approx(spliced, abs=1e-5)
    assert abs(metrics["ce_spliced"] - metrics["ce_clean"]) > 1e-3  # the splice did something
    assert metrics["ce_ablated"] == pytest.approx(independent_loss(model, tokens, 1, site, torch.zeros_like), abs=1e-5)


def test_loss_recovered_is_one_for_identity_and_zero_for_ablation(model_pair):
    _, hooked, tokens = model_pair
    identity = evaluate_sae(hooked, "blocks.2.hook_resid_pre", Identity(), tokens)
    assert identity["loss_recovered"] == pytest.approx(1.0, abs=1e-6)
    assert identity["explained_variance"] == pytest.approx(1.0) and identity["mse"] == pytest.approx(0.0)
    zero = evaluate_sae(hooked, "blocks.2.hook_resid_pre", Zero(), tokens)
    assert zero["loss_recovered"] == pytest.approx(0.0, abs=1e-6)
    assert loss_recovered(clean=3.0, spliced=4.0, ablated=7.0) == pytest.approx(0.75)


def test_reconstruction_metrics_by_hand():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    x_hat = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    latents = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    # L0 = (1 + 0)/2; MSE = 1/4; mean x = (0.5, 0.5), total variance = 4·0.25 = 1, residual = 1 -> EV = 0
    assert reconstruction_metrics(x, latents, x_hat) == {"l0": 0.5, "mse": 0.25, "explained_variance": 0.0, "dead_latents": 2}


def test_map_hook_keeps_relative_depth():
    assert map_hook("blocks.5.hook_mlp_out", 8, 2) == "blocks.1.hook_mlp_out"
    assert map_hook("blocks.6.hook_resid_pre", 8, 2) == "blocks.1.hook_resid_pre"
    assert map_hook("blocks.6.hook_resid_pre", 8, 8) == "blocks.6.hook_resid_pre"
    assert map_hook("blocks.4.hook_resid_pre", 8, 16) == "blocks.8.hook_resid_pre"
    assert map_hook("hook_embed", 8, 2) == "hook_embed"


@pytest.mark.parametrize("architecture", ["gated", "topk"])
def test_sae_trains_offline_saves_in_saelens_format_and_reloads(model_pair, tmp_path, architecture):
    from sae_lens import SAE

    model, hooked, _ = model_pair
    train = np.random.default_rng(0).integers(0, 50, 20_000).astype(np.uint16)
    settings = SAESettings(architecture=architecture, d_sae=64, l1_coefficient=1.0, k=4, lr=1e-3, training_tokens=4096, context=16, batch_tokens=256)
    folder = train_sae("m", "key", hooked, "blocks.1.hook_mlp_out", train, "tokens", settings, tmp_path, torch.device("cpu"))
    assert {"cfg.json", "sae_weights.safetensors", "summary.json"} <= {p.name for p in folder.iterdir()}
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # staging folder renamed away
    raw = SAE.load_from_disk(str(folder))
    folded = load_sae(folder)
    assert torch.allclose(folded.W_dec.norm(dim=-1), torch.ones(64), atol=1e-5)
    x = torch.randn(10, 32)
    with torch.no_grad():  # folding rescales latents but not the reconstruction
        assert torch.allclose(raw.decode(raw.encode(x)), folded.decode(folded.encode(x)), atol=1e-4)
        assert torch.equal(load_sae(folder).encode(x), folded.encode(x))
    stamp = (folder / "sae_weights.safetensors").stat().st_mtime_ns
    again = train_sae("m", "key", hooked, "blocks.1.hook_mlp_out", train, "tokens", settings, tmp_path, torch.device("cpu"))
    assert again == folder and (folder / "sae_weights.safetensors").stat().st_mtime_ns == stamp


def test_masked_splice_zeroes_exactly_the_dropped_latents(model_pair):
    model, hooked, tokens = model_pair
    sae = LinearSAE(32, 64)
    keep = torch.zeros(64, dtype=torch.bool)
    keep[::3] = True
    full = spliced_loss(hooked, "blocks.1.hook_resid_pre", sae, tokens, batch_size=4)
    assert full == pytest.approx(evaluate_sae(hooked, "blocks.1.hook_resid_pre", sae, tokens)["ce_spliced"], abs=1e-6)
    masked = spliced_loss(hooked, "blocks.1.hook_resid_pre", sae, tokens, keep=keep, batch_size=4)
    expected = independent_loss(model, tokens, 1, "resid_pre", lambda a: sae.decode(sae.encode(a) * keep))
    assert masked == pytest.approx(expected, abs=1e-5) and abs(masked - full) > 1e-3
    nothing = spliced_loss(hooked, "blocks.1.hook_resid_pre", sae, tokens, keep=torch.zeros(64, dtype=torch.bool))
    assert nothing == pytest.approx(independent_loss(model, tokens, 1, "resid_pre", torch.zeros_like), abs=1e-5)


def test_sae_training_is_reproducible_and_follows_the_seed(model_pair, tmp_path):
    from safetensors.torch import load_file

    _, hooked, _ = model_pair
    train = np.random.default_rng(0).integers(0, 50, 20_000).astype(np.uint16)

    def weights(seed: int, folder: str) -> dict[str, torch.Tensor]:
        settings = SAESettings(d_sae=32, l1_coefficient=1.0, lr=1e-3, training_tokens=2048, context=16, batch_tokens=256, seed=seed)
        trained = train_sae("m", "key", hooked, "blocks.1.hook_resid_pre", train, "tokens", settings, tmp_path / folder, torch.device("cpu"))
        return load_file(str(trained / "sae_weights.safetensors"))

    torch.manual_seed(123)
    caller_state = torch.random.get_rng_state()
    first, second, other = weights(0, "a"), weights(0, "b"), weights(1, "c")
    assert all(torch.equal(first[name], second[name]) for name in first)  # same seed, separate runs
    assert not torch.equal(first["W_enc"], other["W_enc"])
    assert torch.equal(torch.random.get_rng_state(), caller_state)  # the caller's generator is untouched


def test_kept_checkpoints_do_not_change_the_sae_and_load_like_the_final_one(model_pair, tmp_path):
    """Checkpoints live in their own folder; the final weights equal those of the same SAE trained
    without them; each checkpoint is an inference SAE (activation scaling folded in, as SAELens
    folds the final SAE's), so SAELens's own final checkpoint converted our way equals its final SAE."""
    import sae_lens
    from safetensors.torch import load_file

    from helpers.sae.training import _inference_checkpoints, _sae_config, checkpoint_folders, seeded, training_windows

    _, hooked, _ = model_pair
    train = np.random.default_rng(0).integers(0, 50, 20_000).astype(np.uint16)
    settings = SAESettings(d_sae=32, l1_coefficient=1.0, lr=1e-3, training_tokens=2048, context=16, batch_tokens=256)
    plain = train_sae("m", "key", hooked, "blocks.1.hook_resid_pre", train, "tokens", settings, tmp_path, torch.device("cpu"))
    kept = train_sae("m", "key", hooked, "blocks.1.hook_resid_pre", train, "tokens", settings, tmp_path, torch.device("cpu"), checkpoints=3)
    assert kept != plain and kept.name == plain.name + "-checkpoints3"
    first, second = (load_file(str(folder / "sae_weights.safetensors")) for folder in (plain, kept))
    assert all(torch.equal(first[name], second[name]) for name in first)
    checkpoints = checkpoint_folders(kept)
    assert len(checkpoints) == 3 and list(checkpoints) == sorted(checkpoints) and max(checkpoints) < settings.training_tokens
    assert all(sorted(p.name for p in folder.iterdir()) == ["cfg.json", "sae_weights.safetensors"] for folder in checkpoints.values())
    assert all(load_sae(folder).cfg.normalize_activations == "none" for folder in checkpoints.values())
    assert not checkpoint_folders(plain)

    staging = tmp_path / "reference"  # SAELens's final checkpoint against its final SAE
    config = sae_lens.LanguageModelSAERunnerConfig(
        sae=_sae_config(settings, 32),
        model_name="m",
        hook_name="blocks.1.hook_resid_pre",
        dataset_path="",
        is_dataset_tokenized=True,
        streaming=False,
        context_size=16,
        prepend_bos=False,
        training_tokens=2048,
        train_batch_size_tokens=256,
        n_batches_in_buffer=32,
        store_batch_size_prompts=16,
        lr=1e-3,
        device="cpu",
        logger=sae_lens.LoggingConfig(log_to_wandb=False),
        output_path=str(staging),
        checkpoint_path=str(staging / "checkpoints"),
        n_checkpoints=0,
        save_final_checkpoint=True,
        verbose=False,
        n_batches_for_norm_estimate=10,
    )
    with seeded(0):
        sae_lens.LanguageModelSAETrainingRunner(config, override_model=hooked, override_dataset=training_windows(train, 16)).run()
    _inference_checkpoints(staging)
    (converted,) = (staging / "checkpoints").iterdir()
    ours, theirs = load_file(str(converted / "sae_weights.safetensors")), load_file(str(staging / "sae_weights.safetensors"))
    assert ours.keys() == theirs.keys() and all(torch.allclose(ours[k], theirs[k], rtol=1e-6, atol=1e-7) for k in ours)


@pytest.mark.parametrize("site", ["resid_pre", "mlp_out"])
def test_a_splice_from_the_cached_prefix_gives_the_full_forward_loss(model_pair, site):
    """Running only the blocks from the hook's own on the cached residual changes nothing: the same
    loss as the full forward pass and as an independent PyTorch forward, with and without a mask."""
    model, hooked, tokens = model_pair
    sae, hook = LinearSAE(32, 64), f"blocks.1.hook_{site}"
    prefix = prefix_for(hooked, hook, tokens, batch_size=4)
    assert prefix.layer == 1 and prefix.residual.shape == (6, 16, 32)
    keep = torch.zeros(64, dtype=torch.bool)
    keep[1::2] = True
    for mask in (None, keep):
        full = spliced_loss(hooked, hook, sae, tokens, keep=mask, batch_size=4)
        assert spliced_loss(hooked, hook, sae, tokens, keep=mask, batch_size=4, prefix=prefix) == pytest.approx(full, abs=1e-6)
    expected = independent_loss(model, tokens, 1, site, lambda a: sae.decode(sae.encode(a) * keep))
    assert spliced_loss(hooked, hook, sae, tokens, keep=keep, batch_size=4, prefix=prefix) == pytest.approx(expected, abs=1e-5)
