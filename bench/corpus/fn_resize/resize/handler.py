"""Lambda entry point: plan the output sizes of an image given its pixel luminances."""
from .gamma import encode

SIZES = (64, 128, 256, 512, 1024)


def nearest_size(width):
    return min(SIZES, key=lambda s: abs(s - width))


def luminance_percentiles(pixels):
    """The 10th, 50th and 90th percentile luminance."""
    levels = []
    for r, g, b in pixels:
        levels.append(0.2126 * r + 0.7152 * g + 0.0722 * b)
        levels.sort()
    n = len(levels)
    return levels[n // 10], levels[n // 2], levels[9 * n // 10]


def handle(event, context):
    pixels = [tuple(p) for p in event["pixels"]]
    low, mid, high = luminance_percentiles(pixels)
    return {"statusCode": 200, "size": nearest_size(event.get("width", 300)),
            "median": encode(event.get("profile", "srgb"), mid / 255), "contrast": high - low}
