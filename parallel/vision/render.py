"""Frames from traffic states: a bird's-eye raster and a pinhole camera view, with exact labels.

Both views draw the same things in the same order: background, road surface, lane
markings and stop lines, signal heads, then vehicles (far to near). The semantic mask is
drawn with the same geometry into a one-channel image (:data:`MASK_CLASSES`). Every box is
the axis-aligned extent of the vehicle's projected footprint (BEV) or cuboid (camera),
clipped to the image; a vehicle is *visible* when that clipped box has an area of at least
one pixel, and it then gets exactly one box.

Appearance randomisation (lighting, palette, noise, blur, weather-like occlusion, camera
jitter) is drawn per frame from the frame's own generator and returned, so every setting
is recorded beside the frame. Jitter moves the camera, not the pixels after the fact, so
the labels stay exact.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from parallel.traffic.signals import Timing
from parallel.traffic.topology import Topology
from parallel.vision.scene import CLASSES, SIZES, STOP_BACK_M, Vehicles

MASK_CLASSES = {"background": 0, "road": 1, "lane_marking": 2, "car": 3, "truck": 4, "bus": 5}
RANDOMIZE = ("lighting", "palette", "noise", "blur", "weather", "jitter")
LANE_W = 3.5


@dataclass
class Appearance:
    """One frame's appearance settings (all recorded per frame)."""

    brightness: float = 1.0
    background: tuple[int, int, int] = (96, 128, 80)
    road: tuple[int, int, int] = (70, 70, 74)
    noise_sd: float = 0.0
    blur_radius: float = 0.0
    fog_patches: int = 0
    rain_streaks: int = 0
    rot_deg: float = 0.0  # BEV: rotation; camera: yaw change
    shift_px: tuple[float, float] = (0.0, 0.0)  # BEV: translation; camera: pitch/height change
    vehicle_palette_seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def draw(cls, rng: np.random.Generator, which: tuple[str, ...]) -> Appearance:
        a = cls(vehicle_palette_seed=int(rng.integers(2**31)))
        if "lighting" in which:
            a.brightness = float(rng.uniform(0.55, 1.3))
        if "palette" in which:
            a.background = tuple(int(v) for v in rng.integers(40, 170, 3))  # type: ignore[assignment]
            g = int(rng.integers(45, 110))
            a.road = (g, g, g + int(rng.integers(0, 12)))
        if "noise" in which:
            a.noise_sd = float(rng.uniform(0, 12))
        if "blur" in which:
            a.blur_radius = float(rng.uniform(0, 1.2))
        if "weather" in which:
            if rng.random() < 0.5:
                a.fog_patches = int(rng.integers(1, 5))
            else:
                a.rain_streaks = int(rng.integers(20, 120))
        if "jitter" in which:
            a.rot_deg = float(rng.uniform(-4, 4))
            a.shift_px = (float(rng.uniform(-4, 4)), float(rng.uniform(-4, 4)))
        return a

    def record(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extra")
        d["background"] = "#" + "".join(f"{v:02x}" for v in self.background)
        d["road"] = "#" + "".join(f"{v:02x}" for v in self.road)
        d["shift_x_px"], d["shift_y_px"] = d.pop("shift_px")
        return d


def _streets(topo: Topology) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(a, b, width_m) once per street (a pair of opposite links)."""
    pos = topo.graph.nodes
    seen, out = set(), []
    for u, v, d in topo.graph.edges(data=True):
        key = tuple(sorted((u, v)))
        if key in seen:
            continue
        seen.add(key)
        back = topo.graph.edges[v, u]["lanes"] if topo.graph.has_edge(v, u) else 0
        out.append(
            (
                np.asarray(pos[u]["pos"], float),
                np.asarray(pos[v]["pos"], float),
                (d["lanes"] + back) * LANE_W,
            )
        )
    return out


def _stoplines(topo: Topology) -> list[tuple[np.ndarray, np.ndarray, int, int]]:
    """(end point, unit direction, junction, phase) of every approach link."""
    pos = topo.graph.nodes
    out = []
    for u, v, d in topo.graph.edges(data=True):
        if d["role"] != "approach":
            continue
        a, b = np.asarray(pos[u]["pos"], float), np.asarray(pos[v]["pos"], float)
        direction = (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)
        out.append(
            (
                b - direction * (STOP_BACK_M - 2.5),
                direction,
                int(pos[v]["index"]),
                0 if d["main"] else 1,
            )
        )
    return out


def _rect(a: np.ndarray, b: np.ndarray, width: float) -> np.ndarray:
    d = (b - a) / max(float(np.linalg.norm(b - a)), 1e-9)
    n = np.array([-d[1], d[0]]) * width / 2
    return np.array([a + n, b + n, b - n, a - n])


def _vehicle_colours(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(30, 240, (n, 3))


class BEV:
    """A bird's-eye raster of the whole network: world metres -> pixels by one similarity."""

    def __init__(self, topo: Topology, size: int, extent_m: float = 150.0) -> None:
        self.topo, self.size = topo, size
        # a drone's view of the first junction: at 128 px and 150 m a car is 4 x 2 px
        j = next(n for n, d in topo.graph.nodes(data=True) if d["kind"] == "junction")
        self.centre = np.asarray(topo.graph.nodes[j]["pos"], float)
        self.scale = size / extent_m  # px per metre
        self.streets = _streets(topo)
        self.stoplines = _stoplines(topo)
        self.road_quads = np.array([_rect(a, b, w) for a, b, w in self.streets])  # (S, 4, 2)
        dashes = []
        for a, b, _ in self.streets:
            n = max(int(np.linalg.norm(b - a) / 6.0), 1)
            dashes += [(a + (b - a) * k / n, a + (b - a) * (k + 1) / n) for k in range(0, n, 2)]
        self.dashes = np.array(dashes)  # (D, 2, 2)

    def transform(self, app: Appearance) -> tuple[float, float, float, float, float]:
        """(centre x, centre y, px per m, rotation rad, ...) as recorded with the frame."""
        return (*self.centre, self.scale, math.radians(app.rot_deg), 0.0)

    def project(self, pts: np.ndarray, app: Appearance) -> np.ndarray:
        """World points (..., 2) -> pixel coordinates (..., 2)."""
        th = math.radians(app.rot_deg)
        c, s = math.cos(th), math.sin(th)
        p = pts - self.centre
        x = (c * p[..., 0] - s * p[..., 1]) * self.scale + self.size / 2 + app.shift_px[0]
        y = self.size / 2 - (s * p[..., 0] + c * p[..., 1]) * self.scale + app.shift_px[1]
        return np.stack([x, y], axis=-1)

    def boxes(self, veh: Vehicles, app: Appearance) -> tuple[np.ndarray, np.ndarray]:
        """(N, 4) boxes x0, y0, x1, y1 clipped to the image, and (N,) visible flags."""
        corners = self.project(veh.corners(), app)  # (N, 4, 2)
        lo, hi = corners.min(axis=1), corners.max(axis=1)
        box = np.c_[np.clip(lo, 0, self.size), np.clip(hi, 0, self.size)]
        area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
        return box, area >= 1.0

    def render(
        self, veh: Vehicles, timing: Timing, t: float, app: Appearance
    ) -> tuple[Image.Image, Image.Image, np.ndarray, np.ndarray]:
        size = self.size
        img = Image.new("RGB", (size, size), app.background)
        mask = Image.new("L", (size, size), MASK_CLASSES["background"])
        di, dm = ImageDraw.Draw(img), ImageDraw.Draw(mask)
        for q in self.project(self.road_quads, app):
            poly = [tuple(p) for p in q]
            di.polygon(poly, fill=app.road)
            dm.polygon(poly, fill=MASK_CLASSES["road"])
        dashes = self.project(self.dashes, app)  # (D, 2, 2)
        inside = np.any(np.all((dashes >= -2) & (dashes <= size + 2), axis=2), axis=1)
        for p in dashes[inside]:  # dashed centre lines
            di.line([tuple(p[0]), tuple(p[1])], fill=(230, 230, 230), width=1)
            dm.line([tuple(p[0]), tuple(p[1])], fill=MASK_CLASSES["lane_marking"], width=1)
        for end, d, junction, phase in self.stoplines:
            right = np.array([d[1], -d[0]])
            p = self.project(np.array([end, end + right * LANE_W]), app)
            di.line([tuple(p[0]), tuple(p[1])], fill=(245, 245, 245), width=1)
            dm.line([tuple(p[0]), tuple(p[1])], fill=MASK_CLASSES["lane_marking"], width=1)
            green, amber = timing.state(t, np.array([junction]), np.array([phase]))
            colour = (40, 220, 60) if green[0] else ((250, 190, 30) if amber[0] else (230, 40, 40))
            c = self.project(end + right * (LANE_W + 1.5), app)
            di.ellipse([c[0] - 1.2, c[1] - 1.2, c[0] + 1.2, c[1] + 1.2], fill=colour)
        colours = _vehicle_colours(app.vehicle_palette_seed, 64)
        corners = self.project(veh.corners(), app)
        for i in range(len(veh)):
            poly = [tuple(p) for p in corners[i]]
            di.polygon(poly, fill=tuple(int(v) for v in colours[veh.track[i] % 64]))
            dm.polygon(poly, fill=MASK_CLASSES[CLASSES[veh.cls[i]]])
        box, visible = self.boxes(veh, app)
        return _finish(img, app), mask, box, visible


class Camera:
    """A pinhole camera on a pole at the first junction, looking at its centre."""

    def __init__(self, topo: Topology, size: int) -> None:
        self.topo, self.size = topo, size
        j = next(n for n, d in topo.graph.nodes(data=True) if d["kind"] == "junction")
        self.target = np.asarray(topo.graph.nodes[j]["pos"], float)
        self.streets = _streets(topo)
        self.f = 0.9 * size
        pieces = []
        for a, b, w in self.streets:
            n = max(int(np.linalg.norm(b - a) / 8.0), 1)
            pieces += [_rect(a + (b - a) * k / n, a + (b - a) * (k + 1) / n, w) for k in range(n)]
        q = np.array(pieces)  # (P, 4, 2)
        self.road_pieces = np.concatenate([q, np.zeros((*q.shape[:2], 1))], axis=-1)
        self._pose_cache: tuple[int, tuple[np.ndarray, np.ndarray]] | None = None

    def pose(self, app: Appearance) -> tuple[np.ndarray, np.ndarray]:
        """(R world->camera (3, 3), camera position (3,)) for this frame's jitter."""
        if self._pose_cache is not None and self._pose_cache[0] == id(app):
            return self._pose_cache[1]
        yaw = math.radians(225.0 + app.rot_deg)  # from the south-west corner
        height = 14.0 + app.shift_px[1] * 0.5
        pos = np.array([*(self.target + 32.0 * np.array([math.cos(yaw), math.sin(yaw)])), height])
        aim = np.array([*self.target, 0.0]) - pos
        aim[2] += app.shift_px[0] * 0.5  # pitch jitter
        fwd = aim / np.linalg.norm(aim)
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        out = (np.stack([right, down, fwd]), pos)
        self._pose_cache = (id(app), out)
        return out

    def project(self, pts: np.ndarray, app: Appearance) -> tuple[np.ndarray, np.ndarray]:
        """World points (..., 3) -> (pixels (..., 2), in front (...,))."""
        r, c = self.pose(app)
        cam = (pts - c) @ r.T
        z = cam[..., 2]
        zs = np.maximum(z, 1e-6)
        u = self.f * cam[..., 0] / zs + self.size / 2
        v = self.f * cam[..., 1] / zs + self.size / 2
        return np.stack([u, v], axis=-1), z > 0.5

    def cuboids(self, veh: Vehicles) -> np.ndarray:
        """(N, 8, 3) corners of each vehicle's box."""
        ground = veh.corners()  # (N, 4, 2)
        h = np.array([SIZES[c][2] for c in CLASSES])[veh.cls]
        low = np.concatenate([ground, np.zeros((*ground.shape[:2], 1))], axis=-1)
        high = low.copy()
        high[..., 2] = h[:, None]
        return np.concatenate([low, high], axis=1)

    def boxes(self, veh: Vehicles, app: Appearance) -> tuple[np.ndarray, np.ndarray]:
        pix, front = self.project(self.cuboids(veh), app)  # (N, 8, 2), (N, 8)
        lo, hi = pix.min(axis=1), pix.max(axis=1)
        box = np.c_[np.clip(lo, 0, self.size), np.clip(hi, 0, self.size)]
        area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
        return box, (area >= 1.0) & front.all(axis=1)

    def render(
        self, veh: Vehicles, timing: Timing, t: float, app: Appearance
    ) -> tuple[Image.Image, Image.Image, np.ndarray, np.ndarray]:
        size = self.size
        sky = tuple(int(v) for v in np.clip(np.array(app.background) + 60, 0, 255))
        img = Image.new("RGB", (size, size), sky)
        mask = Image.new("L", (size, size), MASK_CLASSES["background"])
        di, dm = ImageDraw.Draw(img), ImageDraw.Draw(mask)
        # ground plane as one big quad in front of the camera, then the roads in 4 m pieces
        ground = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) * 400 + self.target
        g3 = np.c_[ground, np.zeros(4)]
        gp, gf = self.project(g3, app)
        if gf.all():
            di.polygon([tuple(p) for p in gp], fill=app.background)
        else:  # the horizon: fill below it
            horizon = self.project(
                np.array([[*(self.target + (self.target - self.pose(app)[1][:2]) * 50), 0.0]]), app
            )[0][0][1]
            di.rectangle([0, max(horizon, 0), size, size], fill=app.background)
        pix, front = self.project(self.road_pieces, app)  # (P, 4, 2), (P, 4)
        seen = np.all(front, axis=1) & np.any(np.all((pix >= 0) & (pix <= size), axis=2), axis=1)
        for q in pix[seen]:
            poly = [tuple(x) for x in q]
            di.polygon(poly, fill=app.road)
            dm.polygon(poly, fill=MASK_CLASSES["road"])
        colours = _vehicle_colours(app.vehicle_palette_seed, 64)
        cub = self.cuboids(veh)
        pix, front = self.project(cub, app)
        _, cpos = self.pose(app)
        far_first = np.argsort(-np.linalg.norm(cub.mean(axis=1) - cpos, axis=1))
        for i in far_first:
            if not front[i].all():
                continue
            hull = _hull(pix[i])
            poly = [tuple(p) for p in hull]
            di.polygon(
                poly, fill=tuple(int(v) for v in colours[veh.track[i] % 64]), outline=(20, 20, 20)
            )
            dm.polygon(poly, fill=MASK_CLASSES[CLASSES[veh.cls[i]]])
        box, visible = self.boxes(veh, app)
        return _finish(img, app), mask, box, visible


def _hull(p: np.ndarray) -> np.ndarray:
    """Convex hull of 2-D points (monotone chain)."""
    pts = sorted(map(tuple, p))

    def cross(o: tuple, a: tuple, b: tuple) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple] = []
    for q in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], q) <= 0:
            lower.pop()
        lower.append(q)
    upper: list[tuple] = []
    for q in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], q) <= 0:
            upper.pop()
        upper.append(q)
    return np.array(lower[:-1] + upper[:-1])


def _finish(img: Image.Image, app: Appearance) -> Image.Image:
    """Weather, blur, lighting and sensor noise: the image only, never the labels."""
    rng = np.random.default_rng(app.vehicle_palette_seed + 1)
    if app.fog_patches or app.rain_streaks:
        over = Image.new("RGBA", img.size, (0, 0, 0, 0))
        d = ImageDraw.Draw(over)
        s = img.size[0]
        for _ in range(app.fog_patches):
            x, y, r = rng.uniform(0, s), rng.uniform(0, s), rng.uniform(s / 10, s / 4)
            d.ellipse(
                [x - r, y - r, x + r, y + r], fill=(200, 200, 205, int(rng.integers(60, 140)))
            )
        for _ in range(app.rain_streaks):
            x, y = rng.uniform(0, s), rng.uniform(0, s)
            d.line([x, y, x + 1.5, y + 5], fill=(210, 210, 230, 110), width=1)
        img = Image.alpha_composite(img.convert("RGBA"), over).convert("RGB")
    if app.blur_radius > 0.05:
        img = img.filter(ImageFilter.GaussianBlur(app.blur_radius))
    if app.brightness != 1.0 or app.noise_sd > 0:
        a = np.asarray(img, np.float32) * app.brightness
        if app.noise_sd > 0:
            a += rng.standard_normal(a.shape, dtype=np.float32) * np.float32(app.noise_sd)
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    return img
