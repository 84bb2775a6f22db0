#!/usr/bin/env python3
"""PyTorch reference for moodtune's FER models: training recipe, benchmark, export.

The same architectures as crates/fer/src/model/arch.rs, with the same tensor names, so a
checkpoint exported here loads in moodtune's pure-Rust inference engine unchanged.

  train:  fer_torch.py train --arch slimvgg --run-dir DIR --epochs 24 --seed 1
  bench:  fer_torch.py bench --arch slimvgg   (prints JSON: train img/s, batch-1/64 latency)
  export: fer_torch.py export --run-dir DIR --out model.safetensors
"""
import argparse, gzip, json, math, os, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

EMOTIONS = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
# Mean/std of FER2013 Training pixels scaled to [0,1]; stored with the weights.
MEAN, STD = 0.5077, 0.2550


def load_fer(path, usage):
    xs, ys = [], []
    with gzip.open(path, "rt") if path.endswith(".gz") else open(path) as f:
        header = f.readline()
        assert header.strip().startswith("emotion"), f"{path}: unexpected header {header!r}"
        for line in f:
            label, pixels, use = line.rstrip("\n").split(",")
            if use != usage:
                continue
            xs.append(np.array(pixels.split(), dtype=np.uint8))
            ys.append(int(label))
    return np.stack(xs).reshape(-1, 48, 48), np.array(ys, dtype=np.int64)


class ConvBnRelu(nn.Module):
    # [N, cin, H, W] -> [N, cout, H, W]
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class SlimVgg(nn.Module):
    """Four blocks of 2x(conv3x3+BN+ReLU)+maxpool, 32/64/128/256 channels, on 40x40 crops."""

    input_size, crop = 48, 40

    def __init__(self, widths=(32, 64, 128, 256), hidden=256, dropout=0.3):
        super().__init__()
        layers, cin = [], 1
        for b, c in enumerate(widths, start=1):
            setattr(self, f"block{b}_1", ConvBnRelu(cin, c))
            setattr(self, f"block{b}_2", ConvBnRelu(c, c))
            cin = c
        self.nblocks = len(widths)
        self.drop = nn.Dropout(dropout)
        self.fc1 = nn.Linear(cin * 2 * 2, hidden)  # 40 -> 20 -> 10 -> 5 -> 2
        self.fc2 = nn.Linear(hidden, 7)

    def forward(self, x):  # [N,1,40,40]
        for b in range(1, self.nblocks + 1):
            x = getattr(self, f"block{b}_2")(getattr(self, f"block{b}_1")(x))
            x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)  # [N, 1024]
        x = F.relu(self.fc1(self.drop(x)))
        return self.fc2(self.drop(x))


class Paper(nn.Module):
    """The reference network of SPEC.md: conv64, conv128, pool, conv256, conv256, pool, fc512, fc7."""

    def __init__(self, kernel=3, padding=1):
        super().__init__()
        self.input_size = self.crop = 48
        self.conv1 = nn.Conv2d(1, 64, kernel, padding=padding)
        self.conv2 = nn.Conv2d(64, 128, kernel, padding=padding)
        self.conv3 = nn.Conv2d(128, 256, kernel, padding=padding)
        self.conv4 = nn.Conv2d(256, 256, kernel, padding=padding)
        side = 12 if padding else 3
        self.fc1 = nn.Linear(256 * side * side, 512)
        self.fc2 = nn.Linear(512, 7)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
        x = F.max_pool2d(F.relu(self.conv4(F.relu(self.conv3(x)))), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def build(arch):
    if arch == "slimvgg":
        return SlimVgg()
    if arch == "widevgg":
        return SlimVgg(widths=(48, 96, 192, 384))
    if arch == "paper":
        return Paper(3, 1)
    if arch == "paper-table":
        return Paper(7, 0)
    raise SystemExit(f"unknown arch {arch}")


def augment(batch_u8, crop, rng):
    """Random crop, horizontal flip, brightness/contrast jitter, random erasing. [N,48,48] u8 -> [N,1,c,c] f32."""
    n = len(batch_u8)
    out = np.empty((n, crop, crop), dtype=np.float32)
    m = 48 - crop
    for i in range(n):
        oy, ox = rng.integers(0, m + 1, size=2)
        img = batch_u8[i, oy:oy + crop, ox:ox + crop].astype(np.float32) / 255.0
        if rng.random() < 0.5:
            img = img[:, ::-1]
        contrast = rng.uniform(0.8, 1.2)
        bright = rng.uniform(-0.1, 0.1)
        img = (img - img.mean()) * contrast + img.mean() + bright
        if rng.random() < 0.5:  # random erasing
            eh, ew = rng.integers(crop // 8, crop // 3, size=2)
            ey, ex = rng.integers(0, crop - eh), rng.integers(0, crop - ew)
            img[ey:ey + eh, ex:ex + ew] = rng.random()
        out[i] = img
    out = (out - MEAN) / STD
    return torch.from_numpy(out).unsqueeze(1)


def center(batch_u8, crop, flip=False):
    o = (48 - crop) // 2
    x = batch_u8[:, o:o + crop, o:o + crop].astype(np.float32) / 255.0
    if flip:
        x = x[:, :, ::-1].copy()
    return torch.from_numpy((x - MEAN) / STD).unsqueeze(1)


@torch.no_grad()
def evaluate(model, xs, ys, crop, tta=False):
    model.eval()
    correct, loss_sum = 0, 0.0
    for s in range(0, len(xs), 256):
        xb, yb = xs[s:s + 256], torch.from_numpy(ys[s:s + 256])
        logits = model(center(xb, crop).contiguous(memory_format=torch.channels_last))
        if tta:
            logits = (logits.softmax(1) + model(center(xb, crop, True).contiguous(memory_format=torch.channels_last)).softmax(1)).log()
        loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(1) == yb).sum().item()
    return loss_sum / len(xs), correct / len(xs)


def train(args):
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.run_dir, exist_ok=True)
    t0 = time.time()
    xtr, ytr = load_fer(args.data, "Training")
    xva, yva = load_fer(args.data, "PublicTest")
    print(f"loaded {len(xtr)} training + {len(xva)} PublicTest in {time.time() - t0:.1f}s", flush=True)
    model = build(args.arch).to(memory_format=torch.channels_last)
    crop = model.crop
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim == 1 else decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0}],
                          lr=args.lr, momentum=0.9, nesterov=True)
    steps_per_epoch = len(xtr) // args.batch
    total = steps_per_epoch * args.epochs
    warm = steps_per_epoch * max(1, args.epochs // 10)

    def lr_at(step):  # one-cycle: linear warm-up, cosine decay to 0
        if step < warm:
            return args.lr * (0.1 + 0.9 * step / warm)
        return args.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / (total - warm)))

    ckpt = os.path.join(args.run_dir, "last.pt")
    start_epoch, best = 0, 0.0
    if os.path.exists(ckpt):
        state = torch.load(ckpt, weights_only=False)
        model.load_state_dict(state["model"]); opt.load_state_dict(state["opt"])
        start_epoch, best = state["epoch"], state["best"]
        torch.set_rng_state(state["torch_rng"])
        print(f"resumed from epoch {start_epoch}, best {best:.4f}", flush=True)
    metrics = open(os.path.join(args.run_dir, "metrics.jsonl"), "a")
    for epoch in range(start_epoch, args.epochs):
        rng = np.random.default_rng(args.seed * 1000 + epoch)  # per-epoch stream: resume is exact
        order = rng.permutation(len(xtr))
        model.train()
        te = time.time(); seen = correct = 0; loss_sum = 0.0
        for b in range(steps_per_epoch):
            step = epoch * steps_per_epoch + b
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            idx = order[b * args.batch:(b + 1) * args.batch]
            xb = augment(xtr[idx], crop, rng).contiguous(memory_format=torch.channels_last)
            yb = torch.from_numpy(ytr[idx])
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=args.smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seen += len(idx); loss_sum += loss.item() * len(idx); correct += (logits.argmax(1) == yb).sum().item()
            if b % 50 == 0:
                el = time.time() - te
                print(f"epoch {epoch + 1}/{args.epochs} batch {b}/{steps_per_epoch} loss {loss_sum / seen:.4f} "
                      f"acc {correct / seen:.4f} {seen / max(el, 1e-9):.0f} img/s", flush=True)
        train_time = time.time() - te
        vloss, vacc = evaluate(model, xva, yva, crop)
        rec = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
               "val_loss": vloss, "val_acc": vacc, "lr": lr_at(step), "seconds": train_time,
               "images_per_s": seen / train_time}
        metrics.write(json.dumps(rec) + "\n"); metrics.flush()
        print(json.dumps(rec), flush=True)
        if vacc > best:
            best = vacc
            torch.save(model.state_dict(), os.path.join(args.run_dir, "best.pt.tmp"))
            os.replace(os.path.join(args.run_dir, "best.pt.tmp"), os.path.join(args.run_dir, "best.pt"))
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch + 1, "best": best,
                    "torch_rng": torch.get_rng_state(), "args": vars(args)}, ckpt + ".tmp")
        os.replace(ckpt + ".tmp", ckpt)
    torch.save(model.state_dict(), os.path.join(args.run_dir, "final.pt"))
    print(f"done: best PublicTest {best:.4f}; final TTA {evaluate(model, xva, yva, crop, tta=True)[1]:.4f}", flush=True)


def export(args):
    from safetensors.torch import save_file
    if args.checkpoint.endswith(".safetensors"):
        # A model exported by `moodtune fer train`: same tensor names, no counters.
        from safetensors.torch import load_file
        state = load_file(args.checkpoint)
        if args.member is not None:
            # One member of a `moodtune fer ensemble` file (tensors `m{i}.*`, maybe F16):
            # its logits from the weights exactly as stored, computed in float32.
            prefix = f"m{args.member}."
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            assert state, f"{args.checkpoint} has no tensors {prefix}*"
            state = {k: v.float() if v.dtype.is_floating_point else v for k, v in state.items()}
    else:
        state = torch.load(args.checkpoint, weights_only=False)
        state = state.get("model", state)
    tensors = {k: v.detach().float().contiguous() for k, v in state.items() if v.dtype.is_floating_point}
    meta = {"arch": args.arch, "input_size": "48", "crop": str(args.crop), "mean": str(MEAN), "std": str(STD),
            "preprocess": args.preprocess, "classes": ",".join(EMOTIONS)}
    for kv in args.meta or []:
        k, v = kv.split("=", 1)
        meta[k] = v
    save_file(tensors, args.out + ".tmp", metadata=meta)
    os.replace(args.out + ".tmp", args.out)
    print(f"wrote {args.out}: {sum(v.numel() for v in tensors.values())} values")
    if args.fixture_out:
        # The first N PublicTest faces with PyTorch's logits: the Rust engine must agree.
        xs, ys = load_fer(args.data, "PublicTest")
        xs, ys = xs[:args.fixture_n], ys[:args.fixture_n]
        model = build(args.arch)
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
        model.eval()
        with torch.no_grad():
            logits = model(center(xs, args.crop)).tolist()
        rows = [{"label": int(y), "pixels": " ".join(map(str, x.reshape(-1).tolist())), "logits": l}
                for x, y, l in zip(xs, ys, logits)]
        with open(args.fixture_out + ".tmp", "w") as f:
            json.dump({"model_sha256_prefix": meta.get("sha", ""), "faces": rows}, f)
        os.replace(args.fixture_out + ".tmp", args.fixture_out)
        print(f"wrote {args.fixture_out}: {len(rows)} PublicTest faces with reference logits")


def init(args):
    """An untrained, seeded checkpoint (for tests of the export/inference path)."""
    torch.manual_seed(0)
    torch.save(build(args.arch).state_dict(), args.out)


def bench(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build(args.arch).to(memory_format=torch.channels_last)
    c = model.crop
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(args.batch, 1, c, c).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 7, (args.batch,))
    model.train()

    def step():
        # --bf16: CPU autocast, what `moodtune fer train --bf16` does by hand.
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(); loss.backward(); opt.step()

    step()
    t = time.time(); n = 0
    while time.time() - t < args.seconds:
        step(); n += 1
    train_ips = n * args.batch / (time.time() - t)
    model.eval()
    res = {"arch": args.arch, "engine": f"pytorch {torch.__version__}", "threads": args.threads,
           "train_images_per_s": train_ips}
    with torch.no_grad():
        for bs in (1, 64):
            xi = torch.randn(bs, 1, c, c).contiguous(memory_format=torch.channels_last)
            model(xi)
            times = []
            t = time.time()
            while time.time() - t < args.seconds / 2 or len(times) < 5:
                s = time.perf_counter(); model(xi); times.append(time.perf_counter() - s)
            res[f"batch{bs}_ms"] = float(np.median(times) * 1000)
    print(json.dumps(res))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--arch", default="slimvgg"); t.add_argument("--data", default="../shared/data/fer2013/fer2013.csv.gz")
    t.add_argument("--run-dir", required=True); t.add_argument("--epochs", type=int, default=24)
    t.add_argument("--batch", type=int, default=64); t.add_argument("--lr", type=float, default=0.05)
    t.add_argument("--wd", type=float, default=5e-4); t.add_argument("--smoothing", type=float, default=0.1)
    t.add_argument("--seed", type=int, default=1); t.add_argument("--threads", type=int, default=2)
    e = sub.add_parser("export")
    e.add_argument("--checkpoint", required=True); e.add_argument("--out", required=True)
    e.add_argument("--arch", default="slimvgg"); e.add_argument("--crop", type=int, default=40)
    e.add_argument("--preprocess", default="")
    e.add_argument("--meta", nargs="*", help="extra metadata KEY=VALUE (e.g. temperature=1.3 tta=flip)")
    e.add_argument("--data", default="../shared/data/fer2013/fer2013.csv.gz")
    e.add_argument("--fixture-out"); e.add_argument("--fixture-n", type=int, default=12)
    e.add_argument("--member", type=int, help="export member i of an ensemble file")
    i = sub.add_parser("init")
    i.add_argument("--arch", default="slimvgg"); i.add_argument("--out", required=True)
    b = sub.add_parser("bench")
    b.add_argument("--arch", default="slimvgg"); b.add_argument("--batch", type=int, default=64)
    b.add_argument("--threads", type=int, default=2); b.add_argument("--seconds", type=float, default=10)
    b.add_argument("--bf16", action="store_true")
    a = p.parse_args()
    {"train": train, "export": export, "bench": bench, "init": init}[a.cmd](a)


if __name__ == "__main__":
    main()
