# Upstream: pytorch/examples super_resolution/data.py at 77f55b912142.
# Changed: the imports (torchvision -> the synthetic stand-in pt_vision; dataset.py is pt_super_resolution_dataset;
# six, tarfile, basename and remove are gone with the download), the dataset: download_bsd300 writes 16 + 4
# synthetic 64x64 images (smooth colour fields, PNG) into a temporary folder instead of downloading BSDS300, and
# the crop is 48 instead of 256.
from os.path import exists, join
from os import makedirs
import tempfile
import numpy as np
from PIL import Image
import ember as torch
from pt_vision import torchvision_for
Compose, CenterCrop, ToTensor, Resize = (getattr(torchvision_for(torch).transforms, name)
                                         for name in ("Compose", "CenterCrop", "ToTensor", "Resize"))

from pt_super_resolution_dataset import DatasetFromFolder


def download_bsd300(dest=join(tempfile.gettempdir(), "pt_super_resolution_dataset")):
    output_image_dir = join(dest, "BSDS300/images")

    if not exists(output_image_dir):
        rng = np.random.default_rng(0)
        yy, xx = np.mgrid[0:64, 0:64] / 64.0
        for split, count in (("train", 16), ("test", 4)):
            makedirs(join(output_image_dir, split))
            for i in range(count):
                waves = [np.sin(2 * np.pi * (rng.uniform(0.5, 3) * yy + rng.uniform(0.5, 3) * xx + rng.uniform()))
                         for _ in range(3)]
                rgb = np.stack(waves, axis=-1) * 100 + 128
                Image.fromarray(rgb.astype(np.uint8)).save(join(output_image_dir, split, f"{i}.png"))

    return output_image_dir


def calculate_valid_crop_size(crop_size, upscale_factor):
    return crop_size - (crop_size % upscale_factor)


def input_transform(crop_size, upscale_factor):
    return Compose([
        CenterCrop(crop_size),
        Resize(crop_size // upscale_factor),
        ToTensor(),
    ])


def target_transform(crop_size):
    return Compose([
        CenterCrop(crop_size),
        ToTensor(),
    ])


def get_training_set(upscale_factor):
    root_dir = download_bsd300()
    train_dir = join(root_dir, "train")
    crop_size = calculate_valid_crop_size(48, upscale_factor)

    return DatasetFromFolder(train_dir,
                             input_transform=input_transform(crop_size, upscale_factor),
                             target_transform=target_transform(crop_size))


def get_test_set(upscale_factor):
    root_dir = download_bsd300()
    test_dir = join(root_dir, "test")
    crop_size = calculate_valid_crop_size(48, upscale_factor)

    return DatasetFromFolder(test_dir,
                             input_transform=input_transform(crop_size, upscale_factor),
                             target_transform=target_transform(crop_size))
