"""The map as a picture (PNG), drawn on the server: what /explore/ shows without JavaScript, and
where a search's results are ringed when one is given.

Points are stamped into a pixel array with numpy (50,000 in milliseconds), cluster labels drawn
with Pillow. Colours come from ``CLUSTER_COLOURS``, which static/companies/explore.js shares.
"""

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .search.layout import SCALE

# Twelve colours told apart by most eyes (Tableau's 10 and two more), by cluster id.
CLUSTER_COLOURS = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#79706e", "#17becf", "#bcbd22",
]  # fmt: skip
SIZE = 900
MARGIN = 30
BACKGROUND = (250, 251, 253)
DIMMED = np.array([206, 211, 220], dtype=np.uint8)
HIGHLIGHT = (20, 30, 48)


def hex_colour(cluster):
    """The colour of cluster ``cluster`` (ids start at 1), as the page's script picks it."""
    return CLUSTER_COLOURS[(cluster - 1) % len(CLUSTER_COLOURS)]


def colour(cluster):
    hexa = hex_colour(cluster)
    return tuple(int(hexa[i : i + 2], 16) for i in (1, 3, 5))


def to_pixels(values):
    return (np.asarray(values, dtype=np.float64) / SCALE * (SIZE - 2 * MARGIN) + MARGIN).astype(int)


def render(data, *, dimmed=frozenset(), highlighted=()):
    """PNG bytes of the map ``data`` (as ``map_snapshot.map_data`` gives it): companies in
    ``dimmed`` greyed, ``highlighted`` ones ringed."""
    pixels = np.full((SIZE, SIZE, 3), BACKGROUND, dtype=np.uint8)
    points = data["points"]
    if points:
        xs = to_pixels([p["x"] for p in points])
        ys = to_pixels([p["y"] for p in points])
        palette = np.array([colour(p["cluster"]) for p in points], dtype=np.uint8)
        grey = np.array([p["id"] in dimmed for p in points])
        palette[grey] = DIMMED
        order = np.argsort(~grey)  # grey first, so coloured points lie on top
        for dx in (0, 1, 2):
            for dy in (0, 1, 2):
                px = np.clip(xs[order] + dx - 1, 0, SIZE - 1)
                py = np.clip(ys[order] + dy - 1, 0, SIZE - 1)
                pixels[py, px] = palette[order]
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    where = {p["id"]: p for p in points}
    for pk in highlighted:
        if pk in where:
            x, y = to_pixels([where[pk]["x"], where[pk]["y"]])
            draw.ellipse((x - 7, y - 7, x + 7, y + 7), outline=HIGHLIGHT, width=3)
    font = ImageFont.load_default(size=14)
    for cluster in data["clusters"]:
        x, y = to_pixels([cluster["x"], cluster["y"]])
        half = draw.textlength(cluster["label"], font=font) / 2 + 6
        x = int(min(max(x, half), SIZE - half))  # the whole label inside the picture
        box = draw.textbbox((x, y), cluster["label"], font=font, anchor="mm")
        draw.rectangle((box[0] - 4, box[1] - 3, box[2] + 4, box[3] + 3), fill=(255, 255, 255))
        draw.text((x, y), cluster["label"], font=font, fill=(29, 35, 48), anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
