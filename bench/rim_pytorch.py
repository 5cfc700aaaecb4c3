"""The astrorim RIM and known-lens likelihood gradient in PyTorch, timed
like `astrorim bench rim` (same architecture, shapes, iterations, batch
sizes), so that the two run side by side (bench/compare_rim.sh).

Prints one JSON object: parameter count, inference ms per batch at batch 1
and 16, and training samples/s at batch 8.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

N = M = 96  # image and source sides
K = 21  # PSF side
ITERATIONS = 10


def hard_sigmoid(x):
    return (x * 0.25 + 0.5).clamp(0.0, 1.0)


class ConvGru(nn.Module):
    def __init__(self, inp, hidden):
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(inp + hidden, 2 * hidden, 3, padding=1)
        self.candidate = nn.Conv2d(inp + hidden, hidden, 3, padding=1)

    def forward(self, x, h):
        g = hard_sigmoid(self.gates(torch.cat([x, h], 1)))
        z, r = g[:, : self.hidden], g[:, self.hidden :]
        c = self.candidate(torch.cat([x, r * h], 1)).clamp(-1.0, 1.0)
        return h + z * (c - h)


class Rim(nn.Module):
    """crates/nn/src/rim.rs, layer for layer."""

    def __init__(self):
        super().__init__()
        self.embed1 = nn.Conv2d(2, 16, 3, stride=2, padding=1)
        self.embed2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.gru = ConvGru(32, 32)
        self.up1 = nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1)
        self.up2 = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        self.out = nn.Conv2d(10, 1, 1)

    def step(self, x, grad, h):
        inp = torch.cat([x, grad], 1)
        e1 = F.relu(self.embed1(inp))
        e2 = F.relu(self.embed2(e1))
        h = self.gru(e2, h)
        u1 = F.relu(self.up1(h)) + e1
        u2 = F.relu(self.up2(u1))
        return self.out(torch.cat([u2, inp], 1)), h


def sie_grid(b):
    """Sampling grid of an SIE + shear lens for each of b images (fixed draws)."""
    g = torch.Generator().manual_seed(0)
    c = (torch.arange(N, dtype=torch.float32) - (N - 1) / 2) / (N / 2)
    y, x = torch.meshgrid(c, c, indexing="ij")
    grids = []
    for _ in range(b):
        theta_e, q, phi = 0.6 + 0.2 * torch.rand(1, generator=g), 0.7, 0.3
        e = math.sqrt(1 - q * q)
        xp = math.cos(phi) * x + math.sin(phi) * y
        yp = math.cos(phi) * y - math.sin(phi) * x
        psi = torch.sqrt(q * q * xp * xp + yp * yp + 1e-12)
        s = theta_e * math.sqrt(q) / e
        ax_p, ay_p = s * torch.atan(e * xp / psi), s * torch.atanh((e * yp / psi).clamp(-0.999999, 0.999999))
        ax = math.cos(phi) * ax_p - math.sin(phi) * ay_p + 0.03 * x
        ay = math.sin(phi) * ax_p + math.cos(phi) * ay_p - 0.03 * y
        grids.append(torch.stack([(x - ax) / 0.5, (y - ay) / 0.5], -1))
    return torch.stack(grids)


class Operator:
    """Known-lens F x = PSF ⊛ sample(x, grid); its gradient by autograd."""

    def __init__(self, b):
        self.grid = sie_grid(b)
        r2 = (torch.arange(K) - K // 2).float() ** 2
        psf = torch.exp(-(r2[None, :] + r2[:, None]) / 8.0)
        self.psf = (psf / psf.sum()).expand(b, 1, K, K).contiguous()
        self.b = b

    def apply(self, x):
        lensed = F.grid_sample(x, self.grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return F.conv2d(lensed.reshape(1, self.b, N, N), self.psf.flip([2, 3]), padding=K // 2, groups=self.b).reshape(self.b, 1, N, N)

    def adjoint(self, image):
        with torch.enable_grad():
            x = torch.zeros(self.b, 1, M, M, requires_grad=True)
            (g,) = torch.autograd.grad((self.apply(x) * image).sum(), x)
        return g

    def likelihood_gradient(self, x, y, sigma):
        return -self.adjoint((y - self.apply(x.detach())) / sigma**2)


def reconstruct(rim, op, y, sigma):
    w = sigma**-2
    coverage = op.adjoint(op.apply(torch.ones(op.b, 1, M, M)) * w)
    x = op.adjoint(y * w) / coverage.clamp_min(1e-12)
    floor = coverage.amax(dim=(1, 2, 3), keepdim=True) * 1e-2
    inverse = 1.0 / torch.maximum(coverage, floor).clamp_min(1e-30)
    h = torch.zeros(op.b, 32, M // 4, M // 4)
    estimates = []
    for _ in range(ITERATIONS):
        dx, h = rim.step(x, op.likelihood_gradient(x, y, sigma) * inverse, h)
        x = x + dx
        estimates.append(x)
    return estimates


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    torch.set_num_threads(2)
    torch.manual_seed(0)
    rim = Rim()
    report = {"torch": torch.__version__, "threads": torch.get_num_threads(), "parameters": sum(p.numel() for p in rim.parameters())}
    for b in (1, 16):
        op = Operator(b)
        y, sigma = torch.rand(b, 1, N, N), 0.05 + torch.rand(b, 1, N, N) * 0.01
        with torch.no_grad():
            reconstruct(rim, op, y, sigma)
            t = time.perf_counter()
            for _ in range(repeats):
                reconstruct(rim, op, y, sigma)
            report[f"inference_ms_batch{b}"] = (time.perf_counter() - t) / repeats * 1e3
    b = 8
    op = Operator(b)
    y, sigma, target = torch.rand(b, 1, N, N), 0.05 + torch.rand(b, 1, N, N) * 0.01, torch.rand(b, 1, M, M)
    opt = torch.optim.AdamW(rim.parameters(), lr=1e-4, weight_decay=1e-4)

    def train_step():
        est = reconstruct(rim, op, y, sigma)
        loss = sum(F.mse_loss(x, target) for x in est) / len(est)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(rim.parameters(), 5.0)
        opt.step()

    train_step()
    t = time.perf_counter()
    for _ in range(repeats):
        train_step()
    report["training_samples_per_s_batch8"] = b * repeats / (time.perf_counter() - t)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
