"""The diffusion model: schedule, per-token timesteps, losses and their masks, autoencoder, samplers,
NumPy parity, weight files, and both training scripts end to end on tiny synthetic data."""

import csv

import numpy as np
import pytest
import torch

from jhod_core.model import spec
from jhod_core.torch.autoencoder import AutoencoderConfig, ObjectAutoencoder
from jhod_core.torch.denoiser import CONFIGS, DenoiserConfig, JHODDenoiser, expand_timesteps, split_state
from jhod_core.model.numpy_inference import NumpyBackend, NumpyDenoiser, NumpyObjectAutoencoder
from jhod_core.torch.backend import TorchBackend
from jhod_core.pipeline import NoiseStreams, collect, iter_hand_object, reverse
from jhod_core.torch.schedule import CosineSchedule
from training.losses import (COND, OBJECT_ONLY, UNCOND, autoencoder_loss, chamfer_distance, diffusion_loss,
                             make_diffusion_batch)

T = spec.NUM_TRAIN_STEPS
TINY = DenoiserConfig(d_model=32, layers=2, heads=4, ff=64, encoder_hidden=64, dropout=0.0)
TINY_AE = AutoencoderConfig(stage1=(16, 32), stage2=(32, 32), head_hidden=64, context=32, patch_hidden=16)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models gain nothing from threads, and on a loaded machine OpenMP threads waiting for
    each other made these tests 3-10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def schedule():
    return CosineSchedule()


@pytest.fixture(scope="module")
def hand_model():
    from jhod_core.hand import HandModel

    return HandModel()


def tiny_model(seed=0, config=TINY):
    torch.manual_seed(seed)
    model = JHODDenoiser(config)
    g = torch.Generator().manual_seed(seed + 1)
    h = model.hand_dim
    model.set_statistics(0.1 * torch.randn(h, generator=g), 0.05 + 0.2 * torch.rand(h, generator=g),
                         torch.randn(512, generator=g), 0.5 + torch.rand(512, generator=g))
    return model


def object_clouds(n, seed=0, points=2048):
    """Random boxes' surface-ish clouds, metres."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, points, 3, generator=g) - 0.5) * torch.tensor([0.08, 0.05, 0.12])


def hoi_batch(schedule, model, b=6, m=4, seed=0, sync=False):
    g = torch.Generator().manual_seed(seed)
    hand = torch.randn(b, 51, generator=g)
    obj = torch.randn(b, 512, generator=g)
    only = torch.randn(m, 512, generator=g) if m else None
    return make_diffusion_batch(schedule, hand, obj, only, g, sync)


# --------------------------------------------------------------------------- schedule

def test_cosine_schedule(schedule):
    abar = schedule.alphas_cumprod
    assert abar.shape == (T + 1,) and abar[0] == 1.0
    assert torch.all(abar[1:] < abar[:-1]) and abar[T] < 1e-6
    betas = 1 - abar[1:] / abar[:-1]
    assert betas.max() <= 0.999 + 1e-12
    # Nichol & Dhariwal: before clipping alpha_bar(t) = f(t) / f(0)
    f = lambda t: np.cos((t / T + 0.008) / 1.008 * np.pi / 2) ** 2  # noqa: E731
    assert abs(abar[500].item() - f(500) / f(0)) < 1e-9
    ts = schedule.timesteps(50)
    assert len(ts) == 50 and ts[0] == T and ts[-1] >= 1 and all(a > b for a, b in zip(ts, ts[1:]))
    assert schedule.timesteps(T) == list(range(T, 0, -1))


def test_q_sample_per_token_timesteps(schedule):
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(5, spec.STATE_DIM, generator=g), torch.randn(5, spec.STATE_DIM, generator=g)
    t_hand = torch.tensor([1, 10, 500, 999, T])
    # t_O = 0: the object part comes back exactly, the hand part is noised
    x_t = schedule.q_sample(x0, expand_timesteps(t_hand, torch.zeros(5, dtype=torch.long)), noise)
    assert torch.equal(split_state(x_t)[1], split_state(x0)[1])
    assert not torch.allclose(split_state(x_t)[0], split_state(x0)[0])
    # each part uses its own level: with x0 = 0, x_t = sqrt(1 - abar_t) noise
    t_object = torch.tensor([700, 3, 0, 50, 1])
    x_t = schedule.q_sample(torch.zeros_like(x0), expand_timesteps(t_hand, t_object), noise)
    abar = schedule.alphas_cumprod
    hand, obj = split_state(x_t)
    assert torch.allclose(hand, (1 - abar[t_hand]).sqrt().float()[:, None] * split_state(noise)[0])
    assert torch.allclose(obj, (1 - abar[t_object]).sqrt().float()[:, None] * split_state(noise)[1])
    # a per-sample t equals the same t given per element
    assert torch.equal(schedule.q_sample(x0, t_hand, noise), schedule.q_sample(x0, expand_timesteps(t_hand, t_hand),
                                                                               noise))


def test_reverse_steps_with_exact_x0(schedule):
    """With the true x0, DDIM from level t lands on q_sample(x0, s) with the same noise; both steps end at x0."""
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.randn(3, 20, generator=g), torch.randn(3, 20, generator=g)
    x_t = schedule.q_sample(x0, 800, eps)
    assert torch.allclose(schedule.ddim_step(x_t, x0, 800, 300), schedule.q_sample(x0, 300, eps), atol=1e-5)
    assert torch.allclose(schedule.ddim_step(x_t, x0, 800, 0), x0, atol=1e-6)
    assert torch.allclose(schedule.ddpm_step(x_t, x0, 1, 0, g), x0, atol=1e-6)


# --------------------------------------------------------------------------- losses and masks

def test_batch_layout(schedule):
    model = tiny_model()
    batch = hoi_batch(schedule, model, b=6, m=4)
    kind = batch.kind
    assert kind.tolist() == [UNCOND] * 3 + [COND] * 3 + [OBJECT_ONLY] * 4
    assert torch.all(batch.t_object[kind == COND] == 0) and torch.all(batch.t_hand[kind == COND] >= 1)
    assert torch.all(batch.t_object[kind != COND] >= 1)
    assert torch.equal(split_state(batch.x_t[kind == COND])[1], split_state(batch.target[kind == COND])[1])
    # object-only rows: pure-noise hand slot at t_H = T, the given object noised
    assert torch.all(batch.t_hand[kind == OBJECT_ONLY] == T)
    only = kind == OBJECT_ONLY
    assert torch.equal(split_state(batch.x_t[only])[0], split_state(batch.target[only])[0])
    sync = hoi_batch(schedule, model, b=6, m=4, sync=True)
    assert torch.equal(sync.t_hand, sync.t_object) and not (sync.kind == COND).any()


def test_loss_terms_zero_at_target_and_finite(schedule, hand_model):
    model = tiny_model()
    batch = hoi_batch(schedule, model)
    clouds = object_clouds(6, points=256)
    terms = diffusion_loss(batch.target, batch, model, hand_model, clouds)
    assert set(terms) == {"uncond", "cond", "object", "distance", "hand_xyz", "loss"}
    assert all(v.item() == 0.0 for v in terms.values())
    pred = batch.target + 0.3 * torch.randn(batch.target.shape, generator=torch.Generator().manual_seed(2))
    terms = diffusion_loss(pred, batch, model, hand_model, clouds)
    assert all(torch.isfinite(v) and v > 0 for v in terms.values())


def test_object_only_rows_train_nothing_on_the_hand_side(schedule, hand_model):
    model = tiny_model()
    batch = hoi_batch(schedule, model, b=4, m=3)
    clouds = object_clouds(4, points=256)
    pred = model(batch.x_t, batch.t_hand, batch.t_object, freeze_hand=batch.freeze_hand)
    pred.retain_grad()
    diffusion_loss(pred, batch, model, hand_model, clouds)["loss"].backward()
    only = batch.kind == OBJECT_ONLY
    assert torch.all(split_state(pred.grad[only])[0] == 0) and torch.any(split_state(pred.grad[only])[1] != 0)
    assert torch.all(split_state(pred.grad[~only])[0] != 0)
    # a batch of object-only rows alone: no gradient reaches any hand-side parameter
    model.zero_grad()
    batch = hoi_batch(schedule, model, b=0, m=5)
    pred = model(batch.x_t, batch.t_hand, batch.t_object, freeze_hand=batch.freeze_hand)
    diffusion_loss(pred, batch, model)["loss"].backward()
    for name, p in model.named_parameters():
        hand_side = name.startswith(("hand_encoder", "hand_decoder", "hand_time"))
        if hand_side:
            assert p.grad is None or torch.all(p.grad == 0), name
        elif name.startswith(("object_encoder", "object_decoder", "object_time")):
            assert torch.any(p.grad != 0), name


def test_training_steps_reduce_the_loss(schedule, hand_model):
    model = tiny_model()
    batch = hoi_batch(schedule, model, b=8, m=4)
    clouds = object_clouds(8, points=256)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(25):
        pred = model(batch.x_t, batch.t_hand, batch.t_object, freeze_hand=batch.freeze_hand)
        loss = diffusion_loss(pred, batch, model, hand_model, clouds)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# --------------------------------------------------------------------------- autoencoder

def test_chamfer_analytic():
    grid = torch.stack(torch.meshgrid(*[torch.arange(4.0)] * 3, indexing="ij"), -1).reshape(1, -1, 3)
    assert chamfer_distance(grid, grid).item() == 0.0
    assert chamfer_distance(grid, grid[:, torch.randperm(64)]).item() == 0.0
    shift = torch.tensor([0.1, 0.0, 0.0])
    assert abs(chamfer_distance(grid, grid + shift).item() - 2 * 0.1 ** 2) < 1e-6
    a, b = torch.zeros(1, 1, 3), torch.tensor([[[0.0, 3.0, 4.0]]])
    assert chamfer_distance(a, b).item() == pytest.approx(50.0)
    # one point against two: 1 -> nearest 1; each of the two -> the one
    two = torch.tensor([[[1.0, 0, 0], [2.0, 0, 0]]])
    assert chamfer_distance(a, two).item() == pytest.approx(1.0 + (1.0 + 4.0) / 2)


def test_autoencoder_shapes_order_and_training():
    torch.manual_seed(0)
    model = ObjectAutoencoder(TINY_AE)
    clouds = object_clouds(2, seed=3)
    out = model(clouds[:, :300], generator=torch.Generator().manual_seed(0))  # any number of input points
    assert out["mean"].shape == out["latent"].shape == (2, spec.OBJECT_DIM)
    assert out["recon"].shape == (2, 2048, 3)
    assert model.latent_xyz(out["latent"]).shape == (2, spec.LATENT_POINTS, 3)
    # fixed order: decoded points 16k..16k+15 unfold latent point k
    with torch.no_grad():
        model.fold[-1].weight.zero_()
        model.fold[-1].bias.zero_()
        xyz = model.latent_xyz(out["mean"])
        assert torch.allclose(model.decode(out["mean"]), xyz.repeat_interleave(16, dim=1))
    model = ObjectAutoencoder(TINY_AE)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(15):
        terms = autoencoder_loss(model, model(clouds, generator=torch.Generator().manual_seed(step)), clouds)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
        losses.append(terms["loss"].item())
    assert np.isfinite(losses).all() and losses[-1] < 0.7 * losses[0]


# --------------------------------------------------------------------------- samplers, parity, files

def _conditional(backend, latent, num, steps, seed, method="ddim"):
    """Raw hands (num, 51) for raw latents (1 or num, 512) through the pipeline's reverse loop."""
    fixed = np.broadcast_to((np.asarray(latent) - backend.object_mean) / backend.object_std, (num, spec.OBJECT_DIM))
    noise = NoiseStreams(seed, 2, range(num), 1)
    x = np.concatenate([noise.normal(spec.HAND_DIM), fixed], axis=1)
    loop = reverse(backend, x, steps, method, noise, fixed_object=fixed)
    while True:
        try:
            next(loop)
        except StopIteration as stop:
            x = stop.value
            break
    return x[:, :51] * backend.hand_std + backend.hand_mean, x[:, 51:] * backend.object_std + backend.object_mean


def test_sampling_deterministic_per_seed():
    backend = TorchBackend(ObjectAutoencoder(TINY_AE), tiny_model())
    latent = np.random.default_rng(0).normal(size=(1, 512))
    for method in ("ddim", "ddpm"):
        h1, o1 = _conditional(backend, latent, 3, 8, 5, method)
        h2, _ = _conditional(backend, latent, 3, 8, 5, method)
        h3, _ = _conditional(backend, latent, 3, 8, 6, method)
        assert h1.shape == (3, 51) and np.array_equal(h1, h2) and not np.allclose(h1, h3)
        assert np.allclose(o1, np.broadcast_to(latent, (3, 512)), atol=1e-5)  # the condition is returned unchanged
        a = collect(iter_hand_object(backend, 2, steps=6, seed=1, method=method))
        b = collect(iter_hand_object(backend, 2, steps=6, seed=1, method=method))
        assert a["hand_pose"].shape == (2, 45) and a["object_points"].shape == (2, 2048, 3)
        assert np.array_equal(a["hand_pose"], b["hand_pose"]) and np.array_equal(a["object_points"], b["object_points"])
        # pair 1 of a seed is the same, to the last bit, whether 1 or 2 pairs are asked for
        c = collect(iter_hand_object(backend, 1, steps=6, seed=1, method=method, first=1))
        assert np.array_equal(c["hand_pose"][0], a["hand_pose"][1])
        assert np.array_equal(c["object_points"][0], a["object_points"][1])


def test_sync_model_conditional_sampling_uses_replacement():
    backend = TorchBackend(ObjectAutoencoder(TINY_AE), tiny_model(config=DenoiserConfig(**{**TINY.__dict__,
                                                                                          "sync_timesteps": True})))
    latent = np.random.default_rng(1).normal(size=(2, 512))
    hand, obj = _conditional(backend, latent, 2, 5, 0)
    assert hand.shape == (2, 51) and np.isfinite(hand).all() and np.allclose(obj, latent, atol=1e-5)
    # the object part seen by the network was re-noised, not clean: different hands than without replacement
    backend.sync_timesteps = False
    assert not np.allclose(_conditional(backend, latent, 2, 5, 0)[0], hand)


@pytest.mark.parametrize("norm_first", [False, True])
def test_numpy_backend_matches_torch(tmp_path, norm_first):
    """One .npz per model, read by both backends, which give the same network outputs and samples."""
    model = tiny_model(config=DenoiserConfig(**{**TINY.__dict__, "norm_first": norm_first})).eval()
    torch.manual_seed(0)
    ae = ObjectAutoencoder(TINY_AE).eval()
    model.save(tmp_path / "d.npz", {"steps": 7})
    ae.save(tmp_path / "ae.npz")
    numpy_backend = NumpyBackend(tmp_path / "ae.npz", tmp_path / "d.npz")
    torch_backend = TorchBackend.from_files(tmp_path / "ae.npz", tmp_path / "d.npz")
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, spec.STATE_DIM, generator=g)
    t_hand, t_object = torch.tensor([0, 1, 500, T]), torch.tensor([T, 0, 37, 0])
    with torch.no_grad():
        ref = model(x, t_hand, t_object).numpy()
    for backend in (numpy_backend, torch_backend):
        assert np.abs(backend.denoise(x.numpy(), t_hand.numpy(), t_object.numpy()) - ref).max() < 1e-4
    # one object in every row at one level (conditional sampling): encoded once, the same hands; hand_only
    # returns the object as given
    x[:, spec.HAND_DIM:] = x[:1, spec.HAND_DIM:]
    t_object = torch.zeros(4, dtype=torch.int64)
    with torch.no_grad(), torch.enable_grad():  # with gradients on, nothing is shared: the reference
        ref = model(x, t_hand, t_object).detach().numpy()
    for backend in (numpy_backend, torch_backend):
        for hand_only in (False, True):
            out = backend.denoise(x.numpy(), t_hand.numpy(), t_object.numpy(), hand_only=hand_only)
            assert np.abs(out[:, :spec.HAND_DIM] - ref[:, :spec.HAND_DIM]).max() < 1e-4
            expected = x.numpy()[:, spec.HAND_DIM:] if hand_only else ref[:, spec.HAND_DIM:]
            assert np.abs(out[:, spec.HAND_DIM:] - expected).max() < 1e-4
    latent = np.random.default_rng(2).normal(size=(1, 512))
    for method in ("ddim", "ddpm"):
        hands = [_conditional(b, latent, 3, 12, 4, method)[0] for b in (numpy_backend, torch_backend)]
        assert np.abs(hands[0] - hands[1]).max() < 1e-4
        pairs = [collect(iter_hand_object(b, 2, steps=12, seed=4, method=method))
                 for b in (numpy_backend, torch_backend)]
        assert np.abs(pairs[0]["transl"] - pairs[1]["transl"]).max() < 1e-4
        assert np.abs(pairs[0]["object_points"] - pairs[1]["object_points"]).max() < 1e-4


def test_weight_files_load_with_weights_only(tmp_path):
    model = tiny_model().eval()
    model.save(tmp_path / "d.npz", {"note": "test"})
    with np.load(tmp_path / "d.npz", allow_pickle=False) as z:  # plain arrays and JSON, no pickle
        assert "config" in z.files and '"note": "test"' in str(z["info"])
    x, t = torch.randn(2, spec.STATE_DIM), torch.tensor([3, 900])
    with torch.no_grad():
        assert torch.allclose(JHODDenoiser.load(tmp_path / "d.npz").eval()(x, t, t), model(x, t, t), atol=1e-6)
    model.save(tmp_path / "d.pt", {"note": "test"})
    blob = torch.load(tmp_path / "d.pt", weights_only=True)
    assert blob["note"] == "test" and blob["config"]["d_model"] == 32
    loaded = JHODDenoiser.load(tmp_path / "d.pt").eval()
    x, t = torch.randn(2, spec.STATE_DIM), torch.tensor([3, 900])
    assert torch.equal(loaded.hand_std, model.hand_std)
    with torch.no_grad():
        assert torch.equal(loaded(x, t, t), model(x, t, t))
    ae = ObjectAutoencoder(TINY_AE)
    ae.latent_mean.fill_(0.5)
    ae.save(tmp_path / "ae.pt")
    assert torch.equal(ObjectAutoencoder.load(tmp_path / "ae.pt").latent_mean, ae.latent_mean)
    # the default denoiser ships in < 30 MB of float32
    assert sum(p.numel() for p in JHODDenoiser(CONFIGS["default"]).parameters()) * 4 < 30e6


# --------------------------------------------------------------------------- scripts end to end

def _tiny_corpus(root, n_objects=6):
    from training.data.corpus import MANIFEST_COLUMNS
    from training.data.grasps import save_shard

    objects, grasps = root / "objects", root / "grasps"
    (grasps / "shards").mkdir(parents=True)
    objects.mkdir()
    ids = [f"proc_box_{k:04d}" for k in range(n_objects)]
    splits = ["train", "train", "train", "train", "val", "test"][:n_objects]
    clouds = object_clouds(n_objects, seed=7).numpy().astype(np.float16)
    np.savez(objects / "points.npz", ids=np.array(ids), points=clouds, normals=np.zeros_like(clouds))
    with open(objects / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        for i, s in zip(ids, splits):
            writer.writerow({c: "" for c in MANIFEST_COLUMNS} | {"id": i, "split": s, "n_vertices": 8, "n_faces": 12,
                                                                 "watertight": "true", "extent_x": 0.1,
                                                                 "extent_y": 0.1, "extent_z": 0.1})
    rng = np.random.default_rng(0)
    records = [{"object_id": ids[k % 5], "global_orient": rng.normal(size=3), "transl": 0.05 * rng.normal(size=3),
                "hand_pose": 0.3 * rng.normal(size=45), "keypoints": np.zeros((21, 3)), "kind": "power",
                "digits_in_contact": ["thumb"], "penetration_depth_cm": 0.0, "intersection_volume_cm3": 0.0,
                "sim_displacement_6dir_cm": 0.0, "limit_violation_deg": 0.0} for k in range(20)]
    save_shard(grasps / "shards" / "shard_00000.npz", records, [], [], seed=0)
    return objects, grasps


def test_training_scripts_end_to_end(tmp_path, capsys):
    from training import train_autoencoder, train_diffusion

    objects, grasps = _tiny_corpus(tmp_path)
    ae_out = tmp_path / "ae"
    tiny_ae = ["--stage1", "16,32", "--stage2", "32,32", "--head-hidden", "64", "--context", "32",
               "--patch-hidden", "16"]
    common = ["--no-progress", "--log-every", "1", "--eval-every", "2", "--batch", "2"]
    assert train_autoencoder.main(["--objects", str(objects), "--out", str(ae_out), "--steps", "2",
                                   "--encoder-points", "256", *tiny_ae, *common]) == 0
    ae = ObjectAutoencoder.load(ae_out / "autoencoder.pt")
    assert torch.all(ae.latent_std != 1.0)  # statistics were filled in
    assert (ae_out / "curves.png").exists()
    # without a progress bar, each checkpoint still says where the run is
    assert "step 2/2: loss " in capsys.readouterr().out

    out = tmp_path / "diff"
    tiny = ["--d-model", "32", "--layers", "1", "--heads", "2", "--ff", "32", "--encoder-hidden", "32"]
    args = ["--objects", str(objects), "--grasps", str(grasps), "--autoencoder", str(ae_out / "autoencoder.pt"),
            "--out", str(out), *tiny, *common, "--eval-batches", "1"]
    assert train_diffusion.main([*args, "--steps", "2"]) == 0
    assert train_diffusion.main([*args, "--steps", "3", "--resume"]) == 0
    ckpt = torch.load(out / "ckpt.pt", weights_only=True)
    assert ckpt["step"] == 3 and any(h["split"] == "val" for h in ckpt["history"])
    model = JHODDenoiser.load(out / "denoiser.pt")
    assert torch.allclose(model.object_std, ae.latent_std.clamp_min(1e-4))
    assert (out / "denoiser.npz").exists() and (out / "curves.png").exists()
    x = np.zeros((2, spec.STATE_DIM))
    assert np.isfinite(NumpyDenoiser(out / "denoiser.npz").forward(x, [3, 3], [0, 0])).all()
    # --seed decides the whole run (initial weights, dropout, batches, noise): the same seed twice, the same weights
    runs = {}
    for name, seed in (("seed_a", "3"), ("seed_b", "3"), ("seed_c", "4")):
        assert train_diffusion.main([*args, "--out", str(tmp_path / name), "--steps", "2", "--seed", seed]) == 0
        runs[name] = JHODDenoiser.load(tmp_path / name / "denoiser.pt").state_dict()
    assert all(torch.equal(v, runs["seed_b"][k]) for k, v in runs["seed_a"].items())
    assert not all(torch.equal(v, runs["seed_c"][k]) for k, v in runs["seed_a"].items())
    # --ema: the average of the weights is saved as the model, the last weights beside it; it resumes with the run
    ema_args = [*args, "--out", str(tmp_path / "ema"), "--ema", "0.5"]
    assert train_diffusion.main([*ema_args, "--steps", "2"]) == 0
    assert train_diffusion.main([*ema_args, "--steps", "4", "--resume"]) == 0
    ckpt = torch.load(tmp_path / "ema" / "ckpt.pt", weights_only=True)
    assert ckpt["ema"]["updates"] == 4 and any(h["split"] == "val_ema" for h in ckpt["history"])
    average = JHODDenoiser.load(tmp_path / "ema" / "denoiser.pt").state_dict()
    last = JHODDenoiser.load(tmp_path / "ema" / "denoiser_last.pt").state_dict()
    assert torch.equal(average["hand_mean"], last["hand_mean"])  # statistics are not averaged
    assert not all(torch.equal(v, last[k]) for k, v in average.items())
    with pytest.raises(SystemExit, match="without an average"):
        train_diffusion.main([*args, "--steps", "3", "--resume", "--ema", "0.5"])
    # controls: labels measured on the grasps, dropped at random; the saved model takes a control row
    assert train_diffusion.main([*args, "--out", str(tmp_path / "ctl"), "--steps", "2", "--controls"]) == 0
    assert JHODDenoiser.load(tmp_path / "ctl" / "denoiser.pt").config.controls
    control = np.zeros((2, spec.CONTROL_DIM))
    assert np.isfinite(NumpyDenoiser(tmp_path / "ctl" / "denoiser.npz").forward(x, [3, 3], [0, 0], control)).all()
    # --sources keeps the grasps of those sources only: the tiny corpus has the optimiser's alone
    with pytest.raises(SystemExit, match="no grasps of split train"):
        train_diffusion.main([*args, "--out", str(tmp_path / "src"), "--steps", "1", "--sources", "model"])
    with pytest.raises(SystemExit):
        train_diffusion.parse_args([*args, "--sources", "optimizer"])
    assert train_diffusion.main([*args, "--out", str(tmp_path / "src"), "--steps", "1", "--sources", "optimiser"]) == 0
    assert train_diffusion.main([*args, "--out", str(tmp_path / "bal"), "--steps", "1", "--balance-palms"]) == 0
    # the ablation switches run too
    assert train_diffusion.main([*args, "--out", str(tmp_path / "abl"), "--steps", "1", "--sync-timesteps",
                                 "--no-object-only"]) == 0
    assert JHODDenoiser.load(tmp_path / "abl" / "denoiser.pt").config.sync_timesteps
    # a 6D wrist rotation: 54 hand numbers, statistics measured in that form, read back by both backends
    assert train_diffusion.main([*args, "--out", str(tmp_path / "six"), "--steps", "2", "--rotation-form", "6d"]) == 0
    six = JHODDenoiser.load(tmp_path / "six" / "denoiser.pt")
    assert six.config.rotation == "6d" and six.hand_mean.shape == (54,)
    assert six.hand_mean[:6].abs().max() <= 1 and torch.all(six.hand_std[:6] < 1)  # matrix entries, not angles
    out = NumpyDenoiser(tmp_path / "six" / "denoiser.npz").forward(np.zeros((2, 54 + spec.OBJECT_DIM)), [3, 3], [0, 0])
    assert out.shape == (2, 54 + spec.OBJECT_DIM) and np.isfinite(out).all()
    # presets name the network sizes; bf16 autocast is refused without CUDA, before anything runs
    assert train_diffusion.parse_args([*args, "--preset", "paper"]).config == "paper"
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="--amp needs a CUDA device"):
            train_diffusion.main([*args, "--out", str(tmp_path / "amp"), "--steps", "1", "--amp"])


# --------------------------------------------------------------------------- hand state forms

def test_hand_state_6d_round_trip_and_no_seam():
    from scipy.spatial.transform import Rotation

    from jhod_core.model import hand_state

    rng = np.random.default_rng(0)
    axis = rng.normal(size=(64, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = np.concatenate([rng.uniform(0, np.pi, 60), [np.pi - 1e-3, np.pi - 1e-6, 1e-7, 0.0]])
    params = np.concatenate([axis * angle[:, None], rng.normal(0, 0.3, (64, 45)), rng.normal(0, 0.1, (64, 3))], 1)
    state = hand_state.to_state(params, "6d")
    assert state.shape == (64, 54) and hand_state.hand_dim("6d") == 54 and hand_state.hand_dim("axis_angle") == 51
    back = hand_state.to_params(state, "6d")
    assert np.allclose(Rotation.from_rotvec(back[:, :3]).as_matrix(), Rotation.from_rotvec(params[:, :3]).as_matrix(),
                       atol=1e-9)
    assert np.array_equal(back[:, 3:], params[:, 3:])
    assert np.array_equal(hand_state.to_params(params, "axis_angle"), params)
    # nearly the same wrist just under and just over 180 degrees: far apart in axis-angle, close in 6D
    a, b = np.array([[0, 0, np.pi - 1e-3]]), np.array([[0, 0, -(np.pi - 1e-3)]])
    pad = np.zeros((1, 48))
    six = [hand_state.to_state(np.concatenate([r, pad], 1), "6d")[0, :6] for r in (a, b)]
    assert np.linalg.norm(a - b) > 6 and np.linalg.norm(six[0] - six[1]) < 0.01
    # any 6 numbers with independent halves decode to a proper rotation (what a network outputs)
    m = hand_state.six_d_to_matrix(rng.normal(size=(10, 6)))
    assert np.allclose(m @ m.transpose(0, 2, 1), np.eye(3), atol=1e-9) and np.allclose(np.linalg.det(m), 1)
    with pytest.raises(ValueError, match="unknown hand rotation form"):
        hand_state.hand_dim("quaternion")


def test_6d_state_joints_match_mano(hand_model):
    from jhod_core.model import hand_state
    from training.losses import state_joints

    rng = np.random.default_rng(1)
    params = np.concatenate([rng.normal(0, 1.5, (5, 3)), rng.normal(0, 0.3, (5, 45)), rng.normal(0, 0.1, (5, 3))], 1)
    as_is = state_joints(hand_model, torch.tensor(params, dtype=torch.float32), "axis_angle")
    six = state_joints(hand_model, torch.tensor(hand_state.to_state(params, "6d"), dtype=torch.float32), "6d")
    assert as_is.shape == six.shape and (as_is - six).abs().max() < 1e-5  # metres


def test_6d_model_samples_mano_hands_on_both_backends(tmp_path):
    model = tiny_model(config=DenoiserConfig(**{**TINY.__dict__, "rotation": "6d"})).eval()
    model.save(tmp_path / "d.npz")
    torch.manual_seed(0)
    ObjectAutoencoder(TINY_AE).eval().save(tmp_path / "ae.npz")
    runs = [collect(iter_hand_object(backend, 2, steps=4, seed=3))
            for backend in (NumpyBackend(tmp_path / "ae.npz", tmp_path / "d.npz"),
                            TorchBackend.from_files(tmp_path / "ae.npz", tmp_path / "d.npz"))]
    for run in runs:
        assert run["global_orient"].shape == (2, 3) and run["hand_pose"].shape == (2, 45)
        assert np.linalg.norm(run["global_orient"], axis=1).max() <= np.pi + 1e-6
    assert np.allclose(runs[0]["keypoints"], runs[1]["keypoints"], atol=1e-4)


@pytest.mark.parametrize("neighbours", [0, 6])
def test_numpy_object_autoencoder_matches_torch(tmp_path, neighbours):
    torch.manual_seed(0)
    model = ObjectAutoencoder(AutoencoderConfig(stage1=(16, 32), stage2=(32, 64), head_hidden=64, context=32,
                                                patch_hidden=16, neighbours=neighbours)).eval()
    model.save(tmp_path / "ae.npz")
    points = torch.rand(3, 2048, 3, generator=torch.Generator().manual_seed(1)) * 0.1 - 0.05
    with torch.no_grad():
        expected = model.encode(points).numpy()
    numpy_model = NumpyObjectAutoencoder(tmp_path / "ae.npz")
    got = numpy_model.encode(points.numpy())
    assert got.shape == (3, 512)
    assert np.abs(got - expected).max() < 1e-4
    with torch.no_grad():
        decoded = model.decode(torch.from_numpy(expected)).numpy()
    assert np.abs(numpy_model.decode(expected) - decoded).max() < 1e-5


def test_controls_reach_the_network_on_both_backends(tmp_path):
    """A model with controls: NumPy and torch agree with and without a control row, all zeros means nothing asked,
    and a model without controls refuses one."""
    torch.manual_seed(0)
    model = tiny_model(config=DenoiserConfig(**{**TINY.__dict__, "controls": True})).eval()
    torch.nn.init.normal_(model.control_encoder[2].weight)  # trained, not the zero start
    model.save(tmp_path / "d.npz")
    ObjectAutoencoder(TINY_AE).save(tmp_path / "ae.npz")
    backends = (NumpyBackend(tmp_path / "ae.npz", tmp_path / "d.npz"),
                TorchBackend.from_files(tmp_path / "ae.npz", tmp_path / "d.npz"))
    assert all(b.controls for b in backends)
    x = np.random.default_rng(0).normal(size=(3, spec.STATE_DIM))
    t_hand, t_object = np.array([10, 500, 999]), np.zeros(3, dtype=np.int64)
    control = np.zeros((3, spec.CONTROL_DIM), np.float32)
    control[:, 4:8] = [0.0, 0.0, -1.0, 1.0]  # approach from above
    with torch.no_grad():
        ref = model(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(t_hand), torch.as_tensor(t_object),
                    control=torch.as_tensor(control)).numpy()
    for b in backends:
        asked, free = b.denoise(x, t_hand, t_object, control), b.denoise(x, t_hand, t_object)
        assert np.abs(asked - ref).max() < 1e-4
        assert np.abs(asked - free).max() > 1e-3
        assert np.abs(b.denoise(x, t_hand, t_object, np.zeros_like(control)) - free).max() < 1e-6
    plain = tiny_model().eval()
    with pytest.raises(ValueError, match="without controls"):
        plain(torch.zeros(1, spec.STATE_DIM), torch.zeros(1, dtype=torch.long), torch.zeros(1, dtype=torch.long),
              control=torch.zeros(1, spec.CONTROL_DIM))
    # a fresh model with controls starts as the same model without them (zero last layer)
    fresh = tiny_model(config=DenoiserConfig(**{**TINY.__dict__, "controls": True})).eval()
    with torch.no_grad():
        xt = torch.as_tensor(x, dtype=torch.float32)
        assert torch.equal(fresh(xt, torch.as_tensor(t_hand), torch.as_tensor(t_object), control=torch.ones(3, 12)),
                           fresh(xt, torch.as_tensor(t_hand), torch.as_tensor(t_object)))


def test_skip_passes_near_clean_inputs_through_on_both_backends(tmp_path):
    """``skip``: x0 = sqrt(abar) x_t + sqrt(1 - abar) F, so at a low level the prediction stays next to the input
    whatever the network says (an x0 network rebuilt hands 1.7 cm off at t = 10), and at t = T it is F alone;
    NumPy and torch agree."""
    torch.manual_seed(0)
    model = tiny_model(config=DenoiserConfig(**{**TINY.__dict__, "skip": True})).eval()
    plain = tiny_model(config=DenoiserConfig(**{**TINY.__dict__})).eval()
    plain.load_state_dict(model.state_dict())
    model.save(tmp_path / "d.npz")
    ObjectAutoencoder(TINY_AE).save(tmp_path / "ae.npz")
    x = np.random.default_rng(0).normal(size=(4, spec.STATE_DIM))
    t_low, t_high = np.full(4, 2), np.full(4, spec.NUM_TRAIN_STEPS)
    zero = np.zeros(4, dtype=np.int64)
    xt = torch.as_tensor(x, dtype=torch.float32)
    with torch.no_grad():
        low = model(xt, torch.as_tensor(t_low), torch.as_tensor(zero)).numpy()
        high = model(xt, torch.as_tensor(t_high), torch.as_tensor(t_high)).numpy()
        free = plain(xt, torch.as_tensor(t_high), torch.as_tensor(t_high)).numpy()
        free_low = plain(xt, torch.as_tensor(t_low), torch.as_tensor(zero)).numpy()
    assert np.abs(low - x).max() < 0.02 < np.abs(free_low - x).max()
    np.testing.assert_allclose(low[:, -spec.OBJECT_DIM:], x[:, -spec.OBJECT_DIM:], atol=1e-6)  # t_O = 0: as given
    np.testing.assert_allclose(high, free, atol=2e-3)  # abar(T) ~ 0: the network's own output
    backend = NumpyBackend(tmp_path / "ae.npz", tmp_path / "d.npz")
    for t_hand, t_object, ref in ((t_low, zero, low), (t_high, t_high, high)):
        assert np.abs(backend.denoise(x, t_hand, t_object) - ref).max() < 1e-4
