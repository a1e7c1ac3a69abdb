"""Real photographs and the copies people make of them, for the near-duplicate tests.

The photos come from Debian's wallpaper packages, OpenCV's sample data and the photos
scikit-image ships (`scripts/near-corpus` fetches them into .cache/near-corpus, once).
Each original becomes the entry the bot would store on first sight (a Telegram photo:
longest side 1280, JPEG), and then every copy is made from it the way people make them.
Every fingerprint goes through the path the bot ships: `images.prepare(printed=True)`.

`python -m tests.near_corpus` prints the distributions the thresholds were chosen from.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from bot.photo import fingerprint as fp
from bot.photo import images, rules

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / ".cache" / "near-corpus"
_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
# Originals are reduced to this first: bigger than Telegram's 1280 px, so a file sent as
# it is decodes differently from a photo; decoding 5120 px PNGs would take CI's time.
_WORKING_SIDE = 1600
_MEMORY = 600 * 1024 * 1024


def fetch() -> Path:
    """The corpus folder, fetched first if it is not there."""
    if not (CORPUS / ".complete").exists():
        env = os.environ | {"PYTHON": sys.executable}
        subprocess.run([str(ROOT / "scripts" / "near-corpus")], check=True, env=env)
    return CORPUS / "photos"


def originals(photos: Path) -> list[Path]:
    """One file per distinct picture: the largest of a wallpaper's sizes, the light one of
    light/dark pairs, not a package's preview screenshot, each picture once."""
    chosen: dict[str, Path] = {}
    for path in sorted(photos.rglob("*")):
        if path.suffix.lower() not in _SUFFIXES or not path.is_file():
            continue
        text = str(path)
        if "/images_dark/" in text or path.stem == "screenshot" or "-d." in path.name:
            continue
        if "/gnome/" in text and not path.stem.endswith("-l"):
            continue
        if path.name == "chessboard_RGB.png":  # chessboard_GRAY.png is the same picture
            continue
        # A wallpaper at several sizes is one picture: keep the largest file.
        key = str(path.parent) if "/contents/images" in text else text
        stem = path.stem.split("_")[0] if "mate/abstract/Elephants" in text else None
        key = str(path.parent / stem) if stem else key
        if key not in chosen or path.stat().st_size > chosen[key].stat().st_size:
            chosen[key] = path
    return sorted(chosen.values())


def load(path: Path) -> Image.Image | None:
    """The picture upright in RGB, reduced to `_WORKING_SIDE`; None if too small for the
    bot to keep (a side under 300 px) or outside its aspect ratio."""
    with Image.open(path) as opened:
        opened.draft("RGB", (_WORKING_SIDE, _WORKING_SIDE))
        picture = ImageOps.exif_transpose(opened).convert("RGB")
    picture.thumbnail((_WORKING_SIDE, _WORKING_SIDE), Image.Resampling.LANCZOS)
    width, height = picture.size
    if min(width, height) < rules.MIN_SIDE or not 0.4 <= width / height <= 2.5:
        return None
    return picture


def jpeg(picture: Image.Image, quality: int, **options: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality, **options)
    return out.getvalue()


def png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "PNG", compress_level=1)
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as opened:
        return opened.convert("RGB")


def fit(picture: Image.Image, side: int, *, short: bool = False) -> Image.Image:
    """Scaled so its longest (or shortest) side is `side`."""
    width, height = picture.size
    scale = side / (min(width, height) if short else max(width, height))
    if scale >= 1:
        return picture.copy()
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return picture.resize(size, Image.Resampling.LANCZOS)


def telegram(picture: Image.Image, quality: int = 87) -> bytes:
    """What Telegram makes of a photo: longest side 1280, a baseline JPEG."""
    return jpeg(fit(picture, 1280), quality)


def _caption(picture: Image.Image, text: str) -> Image.Image:
    """Meme-style text across the bottom, about a tenth of the height."""
    out = picture.copy()
    draw = ImageDraw.Draw(out)
    size = max(12, out.height // 10)
    font = ImageFont.load_default(size=size)
    draw.text(
        (out.width // 20, out.height - size * 3 // 2),
        text,
        fill="white",
        font=font,
        stroke_width=max(1, size // 12),
        stroke_fill="black",
    )
    return out


def _paste(picture: Image.Image, other: Image.Image) -> Image.Image:
    """A piece of another picture (a sixth of the width, square) over a visible part."""
    out = picture.copy()
    side = out.width // 6
    patch = fit(other, side * 2).crop((0, 0, side, side))
    out.paste(patch, (out.width // 3, out.height // 3))
    return out


def _border(picture: Image.Image) -> Image.Image:
    pad = max(picture.size) // 20
    return ImageOps.expand(picture, border=pad, fill="white")


def _crop(picture: Image.Image) -> Image.Image:
    width, height = picture.size
    return picture.crop((width // 10, height // 10, width - width // 10, height - height // 10))


def _exif_rotated(picture: Image.Image) -> bytes:
    """The pixels stored turned a quarter, with EXIF orientation 6 to turn them back."""
    stored = picture.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    return jpeg(stored, 90, exif=exif.tobytes())


Copy = Callable[[Image.Image, bytes], tuple[bytes, tuple[int, int] | None]]


def _as_photo(data: bytes) -> tuple[bytes, tuple[int, int] | None]:
    """Bytes as a Telegram photo: the declared size is the JPEG's own."""
    with Image.open(io.BytesIO(data)) as opened:
        return data, opened.size


# Copies of a picture that must find its entry: name -> (original, entry bytes) -> bytes.
COPIES: dict[str, Copy] = {
    "jpeg q70": lambda o, e: _as_photo(telegram(o, 70)),
    "jpeg q95": lambda o, e: _as_photo(telegram(o, 95)),
    "800 px": lambda o, e: _as_photo(jpeg(fit(decoded(e), 800), 87)),
    "320 px short side": lambda o, e: _as_photo(jpeg(fit(decoded(e), 320, short=True), 87)),
    "300 px short side q70": lambda o, e: _as_photo(jpeg(fit(decoded(e), 300, short=True), 70)),
    "re-encoded twice": lambda o, e: _as_photo(jpeg(fit(decoded(jpeg(decoded(e), 75)), 960), 80)),
    "original as a file": lambda o, e: (jpeg(o, 92), None),
    "progressive file": lambda o, e: (jpeg(o, 85, progressive=True), None),
    "exif-rotated file": lambda o, e: (_exif_rotated(o), None),
    "greyscale": lambda o, e: _as_photo(jpeg(decoded(e).convert("L"), 85)),
    "png screenshot": lambda o, e: (png(fit(decoded(e), 1080)), None),
}


# Variants that must NOT find the entry: different pictures that share most pixels.
def _variants(other: Image.Image) -> dict[str, Callable[[Image.Image], Image.Image]]:
    return {
        "flip": lambda o: o.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "rotated, no exif": lambda o: o.transpose(Image.Transpose.ROTATE_90),
        "rotated 180, no exif": lambda o: o.transpose(Image.Transpose.ROTATE_180),
        "other caption": lambda o: _caption(o, "SOMETHING ELSE"),
        "pasted object": lambda o: _paste(o, other),
        "border": _border,
        "crop": _crop,
    }


NEGATIVES = tuple(_variants(Image.new("RGB", (1, 1))))


@dataclass(frozen=True)
class Prints:
    """One original's entry, its copies' and its variants' fingerprints (None: refused)."""

    name: str
    entry: fp.Fingerprint
    captioned: fp.Fingerprint | None
    copies: dict[str, fp.Fingerprint | None]
    variants: dict[str, fp.Fingerprint | None]


def printed(data: bytes, photo_size: tuple[int, int] | None) -> fp.Fingerprint | None:
    """The fingerprint the bot computes for these bytes, on the path it ships."""
    try:
        prepared = images.prepare(data, photo_size, memory_limit=_MEMORY, printed=True)
    except rules.ImageRejected:
        return None
    return prepared.fingerprint


def prints_of(job: tuple[str, str]) -> Prints | None:
    """Every fingerprint of one original (a process pool's job: path, other's path)."""
    path, other_path = map(Path, job)
    original = load(path)
    other = load(other_path) or Image.new("RGB", (640, 480), "red")
    if original is None:
        return None
    entry_bytes = telegram(original)
    entry = printed(*_as_photo(entry_bytes))
    if entry is None:
        return None
    copies = {name: printed(*make(original, entry_bytes)) for name, make in COPIES.items()}
    variants = {
        name: printed(*_as_photo(telegram(make(original))))
        for name, make in _variants(other).items()
    }
    # A meme: the picture with one caption stored, the same picture with another sent.
    captioned = printed(*_as_photo(telegram(_caption(original, "FIRST CAPTION"))))
    return Prints(str(path.relative_to(CORPUS)), entry, captioned, copies, variants)


def all_prints(photos: Path) -> list[Prints]:
    """Fingerprints of every original in the corpus, on every core."""
    paths = originals(photos)
    jobs = [(str(p), str(paths[(i + 7) % len(paths)])) for i, p in enumerate(paths)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return [p for p in pool.map(prints_of, jobs, chunksize=2) if p is not None]


def blanks() -> Iterator[tuple[str, fp.Fingerprint | None]]:
    """Near-blank and smooth pictures: flat colours, gradients, faint noise."""
    for colour in ("white", "black", (128, 128, 128), (200, 30, 30)):
        yield f"flat {colour}", printed(*_as_photo(telegram(Image.new("RGB", (800, 600), colour))))
    gradient = Image.linear_gradient("L").resize((800, 600)).convert("RGB")
    yield "gradient", printed(*_as_photo(telegram(gradient)))
    yield "gradient turned", printed(*_as_photo(telegram(gradient.rotate(90, expand=True))))
    radial = Image.radial_gradient("L").resize((800, 600)).convert("RGB")
    yield "radial", printed(*_as_photo(telegram(radial)))
    noise = Image.effect_noise((800, 600), 3).convert("RGB")
    yield "faint noise", printed(*_as_photo(telegram(noise)))


def main() -> None:
    """Print the distributions: per kind of copy, of variants, of different pictures."""
    corpus = all_prints(fetch())
    if os.environ.get("NEAR_DUMP"):
        import pickle

        Path(os.environ["NEAR_DUMP"]).write_bytes(pickle.dumps(corpus))
    informative = [p for p in corpus if p.entry.informative]
    print(f"{len(corpus)} pictures, {len(informative)} over the information gate")
    gradients = sorted(round(p.entry.gradient, 1) for p in corpus)
    print("entry gradients (lowest 15):", gradients[:15])

    def line(label: str, seen: list[tuple[int, float, float, float, int]]) -> None:
        if not seen:
            print(f"{label:28} none")
            return
        bits = sorted(s[0] for s in seen)
        corr = sorted(s[1] for s in seen)
        diff = sorted(s[2] for s in seen)
        aspect = sorted(s[3] for s in seen)
        chroma = sorted(s[4] for s in seen)
        print(
            f"{label:28} n={len(seen):4} bits max {bits[-1]:2} p95 {bits[int(len(bits) * 0.95)]:2}"
            f" | corr min {corr[0]:.4f} p5 {corr[int(len(corr) * 0.05)]:.4f}"
            f" | diff max {diff[-1]:.3f} p95 {diff[int(len(diff) * 0.95)]:.3f}"
            f" | aspect max {aspect[-1]:.4f} | chroma min {chroma[0]} max {chroma[-1]}"
        )

    def measure(a: fp.Fingerprint, b: fp.Fingerprint) -> tuple[int, float, float, float, int]:
        seen = fp.compare(a.grey, b.grey)
        return (
            (a.phash ^ b.phash).bit_count(),
            seen.correlation,
            seen.largest_diff,
            abs(a.aspect / b.aspect - 1),
            fp.chroma_diff(a.chroma, b.chroma) if a.chroma and b.chroma else 0,
        )

    for name in COPIES:
        got = [(p.entry, p.copies[name]) for p in informative]
        line(name, [measure(e, c) for e, c in got if c is not None])
        missed = [p.name for p in informative if not _hit(p.entry, p.copies[name])]
        if missed:
            print("   missed:", missed[:8])
    for name in NEGATIVES:
        got = [(p.entry, p.variants[name]) for p in informative]
        line("NOT " + name, [measure(e, c) for e, c in got if c is not None])
        hits = [p.name for p in informative if _hit(p.entry, p.variants[name])]
        if hits:
            print("   ACCEPTED:", hits)
    memes = [(p.captioned, p.variants["other caption"]) for p in informative]
    line("NOT meme, other text", [measure(a, b) for a, b in memes if a and b])
    # Different pictures: every pair of entries, and every copy against other entries.
    pairs: list[tuple[int, float, float, float, int]] = []
    closest = 64
    accepted = []
    total = 0
    for i, a in enumerate(corpus):
        others = [a.entry, *(c for c in a.copies.values() if c)]
        for b in corpus:
            if b is a:
                continue
            for print_ in others:
                total += 1
                bits = (print_.phash ^ b.entry.phash).bit_count()
                closest = min(closest, bits)
                if bits <= fp.CANDIDATE_BITS:
                    pairs.append(measure(print_, b.entry))
                    if fp.same_picture(b.entry, print_):
                        accepted.append((a.name, b.name))
        del i
    print(f"different pictures: {total} pairs, closest pHash {closest} bits")
    line("different, pHash candidates", pairs)
    print("different accepted:", accepted)
    print("blanks:", [(n, round(b.gradient, 2) if b else None) for n, b in blanks()])


def _hit(entry: fp.Fingerprint, copy: fp.Fingerprint | None) -> bool:
    return copy is not None and fp.same_picture(entry, copy)


if __name__ == "__main__":
    sys.exit(main())
