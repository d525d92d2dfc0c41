import pytest
import torch

from explorer.data import load_dataset
from explorer.data.photos import HELD_OUT, PHOTOS, TRAIN_PHOTOS, PhotoCrops, load_photo, tiles


# reading the photographs (retina, hubble_deep_field) takes seconds: the tests that load them are slow
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def photos():
    return load_dataset("photos", n_items=512, seed=3)


@slow
def test_split_shapes_and_description(photos):
    assert photos.image_shape == (3, 64, 64) and photos.likelihood == "gaussian"
    assert len(photos.train) == 512
    image, label = photos.train[7]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32 and label == -1
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    for name in HELD_OUT:
        assert name in photos.description
    assert set(photos.extras["held_out_photos"]) == set(HELD_OUT)


@slow
def test_held_out_photos_never_reach_training(photos):
    assert not set(TRAIN_PHOTOS) & set(HELD_OUT) and set(TRAIN_PHOTOS) | set(HELD_OUT) == set(PHOTOS)
    crops = photos.train
    assert {name for name, _, _ in crops.sources} == set(TRAIN_PHOTOS)
    assert all(crops.locate(i)[0] in TRAIN_PHOTOS for i in range(len(crops)))
    # the test split is exactly the held-out photographs' tiles, and no training crop equals any of them
    expected = torch.cat([tiles(load_photo(name), 64) for name in HELD_OUT]).float() / 255
    test_images = photos.test.all_images()
    assert torch.equal(test_images, expected)
    train_images = torch.stack([crops[i][0] for i in range(len(crops))])
    distances = torch.cdist(train_images.flatten(1), test_images.flatten(1))  # (512, 142)
    assert float(distances.min()) > 1.0


@slow
def test_crops_are_seeded_and_cut_where_located(photos):
    again = load_dataset("photos", n_items=512, seed=3).train
    other = load_dataset("photos", n_items=512, seed=4).train
    assert torch.equal(photos.train[100][0], again[100][0])
    assert not torch.equal(photos.train[100][0], other[100][0])
    crops = photos.train
    for index in range(40):
        name, scale, top, left, flipped = crops.locate(index)
        photo = load_photo(name)
        if scale == 2:
            photo = photo[:, :photo.shape[1] // 2 * 2, :photo.shape[2] // 2 * 2].float()
            photo = photo.unflatten(1, (-1, 2)).unflatten(3, (-1, 2)).mean((2, 4)).round()
        patch = photo[:, top:top + 64, left:left + 64].float() / 255
        assert torch.equal(crops[index][0], patch.flip(2) if flipped else patch)
    # both scales and both flips occur
    located = [crops.locate(i) for i in range(len(crops))]
    assert {s for _, s, *_ in located} == {1, 2} and {f for *_, f in located} == {True, False}


@slow
def test_crop_size_option():
    split = load_dataset("photos", image_size=32, n_items=8)
    assert split.image_shape == (3, 32, 32) and split.train[0][0].shape == (3, 32, 32)
    assert split.test[0][0].shape == (3, 32, 32)


@pytest.mark.parametrize("options, message", [
    ({"labeled_fraction": 0.5}, r"'photos' has no option 'labeled_fraction'; it takes: image_size, n_items, seed"),
    ({"image_size": 4}, "image_size .* from 8 to 427, got 4"),
    ({"n_items": 0}, "n_items must be a positive integer, got 0"),
])
def test_bad_options_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        load_dataset("photos", **options)


@slow
def test_unknown_photo_is_refused():
    with pytest.raises(ValueError, match="unknown photo 'lena'"):
        load_photo("lena")
    with pytest.raises(IndexError):
        PhotoCrops(TRAIN_PHOTOS[:1], 4, 64, 0)[4]
