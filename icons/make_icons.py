"""Draw the OpenPipeline shelf icons: 32x32 PNGs, one plain glyph on a coloured tile.

Run ``python icons/make_icons.py`` from the repository root to rewrite them; the PNGs
are committed, so Maya needs no Pillow. Each glyph is drawn at 4x size with simple
shapes (no font, so the result is the same on every machine) and scaled down.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

SIZE = 32
SCALE = 4
S = SIZE * SCALE
WHITE = (255, 255, 255, 255)
ON, OFF = 255, 0  # glyphs draw coverage: ON where white, OFF for holes
HERE = Path(__file__).resolve().parent

Glyph = Callable[[ImageDraw.ImageDraw], None]


def box(*values: float) -> list[float]:
    """Coordinates on a 32-unit grid, scaled to the drawing size."""
    return [value * SCALE for value in values]


def folder(draw: ImageDraw.ImageDraw) -> None:
    draw.polygon(box(6, 10, 13, 10, 15, 12, 26, 12, 26, 24, 6, 24), fill=ON)


def disk(draw: ImageDraw.ImageDraw) -> None:
    draw.polygon(box(6, 6, 22, 6, 26, 10, 26, 26, 6, 26), fill=ON)
    draw.rectangle(box(11, 8, 19, 12), fill=OFF)
    draw.rectangle(box(10, 16, 22, 23), fill=OFF)


def star(draw: ImageDraw.ImageDraw) -> None:
    draw.polygon(box(16, 5, 19, 13, 27, 13, 21, 18, 23, 26, 16, 21, 9, 26, 11, 18, 5, 13, 13, 13),
                 fill=ON)


def open_folder(draw: ImageDraw.ImageDraw) -> None:
    draw.polygon(box(5, 11, 12, 11, 14, 13, 24, 13, 24, 16, 9, 16, 5, 25), fill=ON)
    draw.polygon(box(9, 17, 28, 17, 24, 25, 5, 25), fill=ON)


def link(draw: ImageDraw.ImageDraw) -> None:
    draw.ellipse(box(5, 10, 19, 22), outline=ON, width=3 * SCALE)
    draw.ellipse(box(13, 10, 27, 22), outline=ON, width=3 * SCALE)


def arrow_in(draw: ImageDraw.ImageDraw) -> None:
    draw.rectangle(box(14, 5, 18, 15), fill=ON)
    draw.polygon(box(9, 14, 23, 14, 16, 21), fill=ON)
    draw.line(box(6, 20, 6, 26, 26, 26, 26, 20), fill=ON, width=3 * SCALE, joint="curve")


def padlock(closed: bool) -> Glyph:
    def draw_lock(draw: ImageDraw.ImageDraw) -> None:
        shackle = box(10, 5, 22, 19) if closed else box(15, 2, 27, 16)
        draw.arc(shackle, 180, 360, fill=ON, width=3 * SCALE)
        left, right = (10, 22) if closed else (15, 27)
        draw.line(box(left + 1.5, 11, left + 1.5, 15), fill=ON, width=3 * SCALE)
        if closed:
            draw.line(box(right - 1.5, 11, right - 1.5, 15), fill=ON, width=3 * SCALE)
        draw.rectangle(box(7, 15, 25, 27), fill=ON)
    return draw_lock


def texture(draw: ImageDraw.ImageDraw) -> None:
    for row in range(3):
        for col in range(3):
            if (row + col) % 2 == 0:
                draw.rectangle(box(6 + col * 6, 8 + row * 6, 12 + col * 6, 14 + row * 6), fill=ON)
    draw.polygon(box(24, 3, 25.5, 7, 29, 8, 25.5, 9, 24, 13, 22.5, 9, 19, 8, 22.5, 7), fill=ON)


def dots(draw: ImageDraw.ImageDraw) -> None:
    for x, y in ((8, 9), (16, 7), (24, 10), (11, 16), (20, 15), (7, 23), (15, 24), (24, 22)):
        draw.ellipse(box(x - 2.5, y - 2.5, x + 2.5, y + 2.5), fill=ON)


def clock(draw: ImageDraw.ImageDraw) -> None:
    draw.ellipse(box(5, 5, 27, 27), outline=ON, width=3 * SCALE)
    draw.line(box(16, 9, 16, 16, 21, 19), fill=ON, width=3 * SCALE, joint="curve")


def camera(draw: ImageDraw.ImageDraw) -> None:
    draw.rectangle(box(5, 11, 27, 25), fill=ON)
    draw.rectangle(box(11, 8, 19, 11), fill=ON)
    draw.ellipse(box(11, 13, 21, 23), fill=OFF)
    draw.ellipse(box(13.5, 15.5, 18.5, 20.5), fill=ON)


def film(draw: ImageDraw.ImageDraw) -> None:
    draw.rectangle(box(5, 7, 27, 25), fill=ON)
    for x in range(7, 27, 4):
        draw.rectangle(box(x, 8, x + 2, 10), fill=OFF)
        draw.rectangle(box(x, 22, x + 2, 24), fill=OFF)
    draw.polygon(box(13, 12, 21, 16, 13, 20), fill=OFF)


# name: (tile colour, glyph). Blues browse and open, greens save, amber publishes,
# purples bring in, reds lock, teals are the compute nodes, greys look back.
ICONS: dict[str, tuple[tuple[int, int, int], Glyph]] = {
    "op_browser": ((52, 101, 164), folder),
    "op_open": ((52, 101, 164), open_folder),
    "op_saveWorkshop": ((46, 139, 87), disk),
    "op_master": ((204, 133, 0), star),
    "op_reference": ((117, 80, 123), link),
    "op_import": ((117, 80, 123), arrow_in),
    "op_checkOut": ((178, 34, 34), padlock(closed=True)),
    "op_checkIn": ((178, 34, 34), padlock(closed=False)),
    "op_restoreTexture": ((0, 128, 128), texture),
    "op_scatter": ((0, 128, 128), dots),
    "op_history": ((96, 96, 96), clock),
    "op_snapshot": ((96, 96, 96), camera),
    "op_playblast": ((96, 96, 96), film),
}


def render(colour: tuple[int, int, int], glyph: Glyph) -> Image.Image:
    """One icon: a rounded tile of ``colour`` with the glyph punched or drawn in white."""
    tile = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    ImageDraw.Draw(tile).rounded_rectangle(box(1, 1, 31, 31), radius=5 * SCALE, fill=(*colour, 255))
    mark = Image.new("L", (S, S), 0)  # glyph coverage: white where drawn, holes stay tile-coloured
    glyph(ImageDraw.Draw(mark))
    tile.paste(Image.new("RGBA", (S, S), WHITE), (0, 0), mark)
    return tile.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main() -> None:
    for name, (colour, glyph) in ICONS.items():
        render(colour, glyph).save(HERE / f"{name}.png", optimize=True)


if __name__ == "__main__":
    main()
