from resize.handler import handle, nearest_size


def test_plan():
    pixels = [((i * 37) % 256, (i * 91) % 256, (i * 53) % 256) for i in range(14_000)]
    out = handle({"pixels": pixels, "width": 500}, None)
    assert out["statusCode"] == 200 and out["size"] == 512
    assert 0.0 < out["median"] <= 1.0 and out["contrast"] > 0


def test_nearest_size():
    assert [nearest_size(w) for w in (10, 100, 2000)] == [64, 128, 1024]
