"""Generated practice images ("phantoms") so every notebook runs with no internet.

Introduced in notebook 00_start_here. These are not real patients: they are
drawings made from simple shapes, with enough anatomy (lungs, heart, ribs,
spine, diaphragm) and enough variation (patient size, exposure, noise) that a
model has something real to learn, and that a picture of one looks like a
chest film at a glance.

- ``chest_xray`` draws one frontal chest film, with or without a
  pneumonia-like patchy opacity, and returns its heart box and lung mask too.
- ``chest_xrays`` draws many, reproducibly from a seed.
- ``cardiac_mri`` draws a small MRI-like volume of the chest with a
  left-atrium-like label; ``cardiac_mris`` draws many.

Every function is deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

CHEST_LABELS = ["normal", "pneumonia"]


def _grid(size: int):
    """Pixel coordinates from -1 to 1: y runs head to feet, x runs image left to right."""
    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    return np.meshgrid(axis, axis, indexing="ij")


def _ellipse(y, x, cy, cx, ry, rx, angle=0.0):
    """Boolean mask of a (rotated) ellipse."""
    cos, sin = np.cos(angle), np.sin(angle)
    dy, dx = y - cy, x - cx
    u = dx * cos + dy * sin
    v = -dx * sin + dy * cos
    return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0


def _smooth_noise(rng, shape, sigma):
    """Cloud-like texture with values roughly in [-1, 1]."""
    noise = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return noise / (np.abs(noise).max() + 1e-6)


def _box(mask) -> np.ndarray:
    """Bounding box (x_min, y_min, x_max, y_max) of a mask, in pixels."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=np.float32)


def chest_xray(size: int = 64, pneumonia: bool = False, seed: int = 0) -> dict:
    """Draw one phantom frontal (PA) chest X-ray.

    Returns a dict with ``image`` (size x size, uint8, bones bright as on a
    film), ``label`` (0 normal, 1 pneumonia), ``heart_box`` (x_min, y_min,
    x_max, y_max in pixels), ``lung_mask`` (bool) and ``opacity_mask`` (bool,
    where the pneumonia-like opacity is; empty for a normal film).
    As on a real film the patient's left is on the image's right.
    """
    rng = np.random.default_rng(seed)
    y, x = _grid(size)
    # Each patient is a little different: position, size, tilt, heart size.
    shift_x, shift_y = rng.normal(0, 0.03, 2)
    scale = rng.uniform(0.9, 1.05)
    tilt = rng.normal(0, 0.04)
    y, x = (y - shift_y) / scale, (x - shift_x) / scale
    y, x = y * np.cos(tilt) - x * np.sin(tilt), x * np.cos(tilt) + y * np.sin(tilt)

    body = _ellipse(y, x, 0.15, 0.0, 1.15, rng.uniform(0.85, 0.95))
    right_lung = _ellipse(y, x, -0.05, -0.42, rng.uniform(0.62, 0.7), rng.uniform(0.27, 0.32), angle=0.08)
    left_lung = _ellipse(y, x, -0.02, 0.42, rng.uniform(0.58, 0.66), rng.uniform(0.25, 0.3), angle=-0.08)
    # Diaphragm: dome-shaped lower edge of each lung (the right one sits higher).
    right_lung &= y < 0.5 - 0.35 * (x + 0.42) ** 2
    left_lung &= y < 0.56 - 0.35 * (x - 0.42) ** 2
    mediastinum = (np.abs(x - 0.02) < 0.14) & (y < 0.45)
    heart_width = rng.uniform(0.24, 0.34)  # varies the cardiothoracic ratio
    heart = _ellipse(y, x, 0.3, 0.1, rng.uniform(0.2, 0.26), heart_width, angle=-0.35)
    lungs = (right_lung | left_lung) & ~mediastinum & ~heart

    # Attenuation: how much X-ray each structure stops (bright = stops more).
    image = np.where(body, 0.48, 0.05).astype(np.float32)
    image += 0.15 * _smooth_noise(rng, (size, size), size / 10) * body  # soft-tissue unevenness
    # Lungs are darkest in the middle and greyer towards the chest wall.
    depth = ndimage.distance_transform_edt(lungs)
    image[lungs] = 0.3 - 0.16 * np.clip(depth[lungs] / (0.12 * size), 0, 1)
    image[mediastinum & body] = 0.58
    image[heart] = 0.62
    image += 0.12 * (np.abs(x - 0.02) < 0.06) * (y < 0.9)  # spine
    image += 0.05 * _smooth_noise(rng, (size, size), size / 40) * lungs  # vessels and lung markings

    # Ribs: arched bright bands across both lungs; clavicles at the top.
    rib_width = 0.028 + 0.01 * rng.random()
    for k in range(9):
        level = -0.72 + 0.155 * k + rng.normal(0, 0.01)
        arch = level + 1.1 * ((np.abs(x) - 0.45) ** 2 - 0.35**2)  # rises from the spine, curves down at the side
        band = np.abs(y - arch) < rib_width * (1.2 - 0.5 * np.abs(x))
        image += 0.08 * (band & (np.abs(x) > 0.1) & (np.abs(x) < 0.85) & body)
    for side in (-1, 1):
        clavicle = np.abs(y - (-0.78 + 0.12 * (side * x - 0.1))) < 0.03
        image += 0.16 * (clavicle & (side * x > 0.05) & (side * x < 0.6))

    opacity = np.zeros((size, size), dtype=bool)
    if pneumonia:
        # One to three patchy, cloud-like opacities inside the lungs, often low down.
        texture = 0.5 + 0.5 * _smooth_noise(rng, (size, size), size / 20)
        for _ in range(rng.integers(1, 4)):
            cx = rng.choice([-0.42, 0.42]) + rng.normal(0, 0.1)
            cy = rng.uniform(-0.3, 0.4)
            radius = rng.uniform(0.12, 0.28)
            blob = np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius**2)))
            strength = rng.uniform(0.12, 0.3)
            patch = strength * blob * texture * lungs
            image += patch
            opacity |= patch > 0.04

    # Exposure and detector: contrast, brightness, blur and noise differ per film.
    image = ndimage.gaussian_filter(image, sigma=size / 180)
    image = image * rng.uniform(0.85, 1.15) + rng.uniform(-0.06, 0.06)
    image += rng.normal(0, 0.02, image.shape).astype(np.float32)
    image = np.clip(image, 0, 1) ** rng.uniform(0.85, 1.15)
    return {
        "image": (image * 255).round().astype(np.uint8),
        "label": int(pneumonia),
        "heart_box": _box(heart & body),
        "lung_mask": lungs,
        "opacity_mask": opacity,
    }


def chest_xrays(n: int, size: int = 64, prevalence: float = 0.4, seed: int = 0) -> dict:
    """Draw ``n`` phantom chest X-rays, a fraction ``prevalence`` with pneumonia.

    Returns a dict of stacked arrays: ``images`` (n, size, size) uint8,
    ``labels`` (n,), ``heart_boxes`` (n, 4), ``lung_masks`` (n, size, size)
    and ``opacity_masks``; plus ``label_names``.
    """
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < prevalence).astype(np.int64)
    films = [chest_xray(size, bool(label), seed=int(s)) for label, s in zip(labels, rng.integers(0, 2**31, n))]
    return {
        "images": np.stack([f["image"] for f in films]),
        "labels": labels,
        "heart_boxes": np.stack([f["heart_box"] for f in films]),
        "lung_masks": np.stack([f["lung_mask"] for f in films]),
        "opacity_masks": np.stack([f["opacity_mask"] for f in films]),
        "label_names": list(CHEST_LABELS),
    }


def cardiac_mri(shape: tuple[int, int, int] = (16, 64, 64), seed: int = 0) -> dict:
    """Draw one phantom MRI-like volume of the chest with a left-atrium-like label.

    ``shape`` is (slices, rows, columns). Returns ``volume`` (float32, 0 to 1,
    blood bright as on a bright-blood MRI) and ``label`` (uint8, 1 inside the
    left-atrium-like chamber). Other chambers are bright too, so a model must
    learn where the atrium is and its shape, not just find bright pixels.
    """
    rng = np.random.default_rng(seed)
    depth, rows, cols = shape
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n, dtype=np.float32) for n in shape), indexing="ij")

    def ellipsoid(cz, cy, cx, rz, ry, rx):
        return ((z - cz) / rz) ** 2 + ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0

    jitter = lambda s=0.05: rng.normal(0, s)  # noqa: E731
    body = ((y / rng.uniform(0.75, 0.85)) ** 2 + (x / rng.uniform(0.9, 0.97)) ** 2) <= 1.0
    volume = np.where(body, 0.35, 0.02).astype(np.float32)
    lungs = (ellipsoid(0, -0.05, -0.5, 1.4, 0.5, 0.3) | ellipsoid(0, -0.05, 0.5, 1.4, 0.5, 0.3)) & body
    volume[lungs] = 0.08
    myocardium = ellipsoid(jitter(), -0.05 + jitter(), 0.0 + jitter(), 0.9, 0.45, 0.42)
    volume[myocardium] = 0.45
    # Bright blood pools (front of the chest is at the top of the image): two ventricles
    # at the front, the right atrium to the patient's right, the left atrium at the back.
    ventricles = ellipsoid(0.2, -0.25, 0.15, 0.6, 0.2, 0.15) | ellipsoid(0.2, -0.22, -0.15, 0.55, 0.18, 0.14)
    right_atrium = ellipsoid(-0.1, 0.02, -0.3, 0.45, 0.15, 0.12)
    atrium = ellipsoid(-0.15 + jitter(), 0.22 + jitter(), 0.05 + jitter(),
                       rng.uniform(0.35, 0.55), rng.uniform(0.12, 0.18), rng.uniform(0.14, 0.22))
    volume[ventricles | right_atrium] = 0.8
    volume[atrium] = 0.85
    aorta = ((y - 0.45) ** 2 + (x - 0.16) ** 2 <= 0.07**2) & body  # descending aorta beside the spine
    volume[aorta] = 0.8
    volume += 0.4 * ((np.abs(x) < 0.1) & (y > 0.5) & (y < 0.72))  # vertebra behind the heart

    bias = 1 + 0.25 * _smooth_noise(rng, shape, max(rows, cols) / 4)  # coil shading
    volume = ndimage.gaussian_filter(volume * bias, sigma=(0.5, rows / 100, cols / 100))
    volume += rng.normal(0, 0.04, shape).astype(np.float32)  # thermal noise
    return {"volume": np.clip(volume, 0, 1).astype(np.float32), "label": atrium.astype(np.uint8)}


def cardiac_mris(n: int, shape: tuple[int, int, int] = (16, 64, 64), seed: int = 0) -> dict:
    """Draw ``n`` phantom MRI volumes. Returns ``volumes`` (n, *shape) and ``labels``."""
    rng = np.random.default_rng(seed)
    scans = [cardiac_mri(shape, seed=int(s)) for s in rng.integers(0, 2**31, n)]
    return {"volumes": np.stack([s["volume"] for s in scans]), "labels": np.stack([s["label"] for s in scans])}


# ---------------------------------------------------------------- several findings per film (notebook 06)

MULTI_FINDINGS = ("Pneumonia", "Effusion", "Cardiomegaly", "Nodule")
PNEUMONIA_DENSITY = 0.5   # how much whiter a consolidation makes the lung on a several-findings film (0..1 scale)


def chest_xray_multi(size: int = 64, findings=(), view: str = "PA", seed: int = 0) -> dict:
    """Draw one phantom chest film with any of several findings (notebook 06).

    ``findings`` is any of ``MULTI_FINDINGS``: a pneumonia-like opacity, a pleural
    effusion (white fluid filling the bottom of a lung, blunting its angle), an
    enlarged heart, a small round nodule. ``view="AP"`` draws a bedside film as
    a portable machine makes it: the heart looks a little wider, and a bright
    "PORTABLE"-like tag sits in the top corner (a shortcut a model may learn).
    Returns ``image`` (uint8) and ``labels`` (one 0/1 per ``MULTI_FINDINGS``).
    """
    unknown = set(findings) - set(MULTI_FINDINGS)
    if unknown:
        from radkit.errors import RadkitError

        raise RadkitError(f"Unknown phantom finding(s): {', '.join(sorted(unknown))}.",
                          f"Use some of: {', '.join(MULTI_FINDINGS)}.")
    film = chest_xray(size, pneumonia=False, seed=seed)   # the consolidation is drawn below
    rng = np.random.default_rng(seed + 1)
    image = film["image"].astype(np.float32) / 255
    y, x = _grid(size)
    lungs = film["lung_mask"]
    x0, y0, x1, y1 = film["heart_box"] / size * 2 - 1  # heart box in -1..1 coordinates
    if "Pneumonia" in findings:
        # A lobar consolidation: one lung's upper or middle zone turns white, patchy inside. Denser and larger
        # than the single-finding films' opacities: among several findings, and with only a few labelled
        # films (notebook 06, section 4), a faint patch would be lost; a clinician would see this one.
        lobe_rng = np.random.default_rng(seed + 2)
        side_lung = lungs & (x * lobe_rng.choice([-1, 1]) > 0)
        rows = np.flatnonzero(side_lung.any(axis=1))
        if len(rows):
            top = rows[0] + lobe_rng.uniform(0.0, 0.3) * (rows[-1] - rows[0])
            row = np.arange(size)[:, None]
            zone = side_lung & (row >= top) & (row <= top + 0.5 * (rows[-1] - rows[0]))
            patchy = 0.7 + 0.3 * _smooth_noise(lobe_rng, (size, size), size / 16)
            image = image + PNEUMONIA_DENSITY * ndimage.gaussian_filter(zone.astype(np.float32), size / 64) * patchy
    grow = (1.45 if "Cardiomegaly" in findings else 1.0) * (1.1 if view == "AP" else 1.0)
    if grow > 1.0:
        heart = _ellipse(y, x, (y0 + y1) / 2 + 0.03, (x0 + x1) / 2, (y1 - y0) / 2 * 1.1,
                         (x1 - x0) / 2 * grow, angle=-0.2)
        image = np.where(heart, np.maximum(image, 0.6 + 0.02 * rng.standard_normal()), image)
    if "Effusion" in findings:
        side = rng.choice([-1, 1])
        side_lung = lungs & (x * side > 0)
        rows = np.flatnonzero(side_lung.any(axis=1))
        if len(rows):
            level = rows[-1] - rng.uniform(0.2, 0.4) * (rows[-1] - rows[0])
            meniscus = np.arange(size)[:, None] >= level - 0.15 * size * (np.abs(x) - 0.4) ** 2 * 4
            image = np.where(side_lung & meniscus, 0.62 + 0.03 * _smooth_noise(rng, (size, size), size / 30), image)
    if "Nodule" in findings and lungs.any():
        rows, cols = np.nonzero(lungs)
        k = rng.integers(len(rows))
        radius = rng.uniform(0.035, 0.06)
        cy, cx = y[rows[k], cols[k]], x[rows[k], cols[k]]
        image += 0.22 * np.exp(-(((x - cx) ** 2 + (y - cy) ** 2) / (2 * radius**2)))
    if view == "AP":
        tag = (y < -0.8) & (y > -0.9) & (x > 0.45) & (x < 0.85)
        image = np.where(tag, 0.95, image)
    labels = np.array([int(f in findings) for f in MULTI_FINDINGS], dtype=np.uint8)
    return {"image": (np.clip(image, 0, 1) * 255).round().astype(np.uint8), "labels": labels}


def chest_xrays_multi(n: int, size: int = 64, seed: int = 0) -> dict:
    """Draw ``n`` phantom films with several findings, and patients, age, sex and view (notebook 06).

    Like the NIH subset: several films per patient for some, findings that
    often come together, one rare finding (nodules: too few to judge), and
    AP (bedside) films more common among the sick.
    Returns ``images``, ``labels`` (n, 4), ``findings`` and ``info``
    (``patient``, ``age``, ``sex``, ``view`` arrays).
    """
    rng = np.random.default_rng(seed)
    patients = np.sort(rng.integers(0, int(n * 0.7), n))
    sick = rng.random(n) < 0.5
    chosen, views = [], []
    for s in sick:
        found = []
        if s:
            found = [f for f, p in zip(MULTI_FINDINGS, (0.6, 0.4, 0.3, 0.12)) if rng.random() < p] or ["Pneumonia"]
        chosen.append(found)
        views.append("AP" if rng.random() < (0.6 if found else 0.35) else "PA")
    films = [chest_xray_multi(size, f, v, seed=int(s)) for f, v, s in zip(chosen, views, rng.integers(0, 2**31, n))]
    info = {"patient": patients.astype(str), "age": rng.integers(18, 90, n),
            "sex": rng.choice(np.array(["F", "M"]), n), "view": np.array(views)}
    return {"images": np.stack([f["image"] for f in films]), "labels": np.stack([f["labels"] for f in films]),
            "findings": list(MULTI_FINDINGS), "info": info}


# ---------------------------------------------------------------- another scanner, another camera (notebook 10)

SCANNERS = ("contrast", "noise", "resolution", "screen_photo")


def other_scanner(images, kind: str = "screen_photo", seed: int = 0) -> np.ndarray:
    """The same films as another machine, or a phone camera, would give them (notebook 10).

    ``kind``: ``"contrast"`` (another detector's grey curve: flatter and brighter),
    ``"noise"`` (a low-dose or older detector: grainy), ``"resolution"`` (a coarser
    detector: detail lost, then enlarged back), ``"screen_photo"`` (a phone photo of
    the film on a monitor: tilted, uneven glare, screen pixels showing as a fine
    pattern, softer contrast, a dark border). Works on real films and phantoms alike;
    uint8 (N, H, W) in and out. The films themselves are unchanged: only how they were captured.
    """
    if kind not in SCANNERS:
        from radkit.errors import RadkitError

        raise RadkitError(f"kind={kind!r} is not a scanner RadKit simulates.", f"Use one of: {', '.join(SCANNERS)}.")
    rng = np.random.default_rng(seed)
    films = np.asarray(images).astype(np.float32) / 255
    single = films.ndim == 2
    films = films[None] if single else films
    n, h, w = films.shape
    out = np.empty_like(films)
    y, x = _grid(h)[0][:, :1], np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    for i, film in enumerate(films):
        if kind == "contrast":
            film = 0.25 + 0.6 * film ** rng.uniform(0.6, 0.75)
        elif kind == "noise":
            film = film + rng.normal(0, 0.08, film.shape)
        elif kind == "resolution":
            factor = 4
            small = film[: h // factor * factor, : w // factor * factor].reshape(h // factor, factor, w // factor,
                                                                                 factor).mean(axis=(1, 3))
            film = np.kron(small, np.ones((factor, factor)))
            film = np.pad(film, ((0, h - film.shape[0]), (0, w - film.shape[1])), mode="edge")
            film = ndimage.gaussian_filter(film, 0.8)
        else:
            angle = rng.uniform(-6, 6)
            film = ndimage.rotate(film, angle, reshape=False, order=1, mode="constant", cval=0.05)
            film = ndimage.zoom(film, rng.uniform(0.85, 0.92), order=1)
            pad_y, pad_x = h - film.shape[0], w - film.shape[1]
            film = np.pad(film, ((pad_y // 2, pad_y - pad_y // 2), (pad_x // 2, pad_x - pad_x // 2)),
                          constant_values=0.05)[:h, :w]
            glare = 0.25 * np.exp(-(((x - rng.uniform(-0.5, 0.5)) ** 2 + (y - rng.uniform(-0.5, 0.5)) ** 2) / 0.3))
            pattern = 0.04 * np.sin(2 * np.pi * (x * w / 3.1 + y * h / 7.3))  # screen pixels against camera pixels
            film = 0.15 + 0.7 * ndimage.gaussian_filter(film, 0.7) + glare + pattern
            film = film + rng.normal(0, 0.02, film.shape)
        out[i] = np.clip(film, 0, 1)
    out = (out * 255).round().astype(np.uint8)
    return out[0] if single else out
