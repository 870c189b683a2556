"""The datasets the course uses: where each comes from, its licence, files and checksums.

Introduced in notebook 00_start_here. Each entry is a dataset card; the
human-readable cards in ``datasets/`` are written from these entries by
``radkit cards`` (a test checks they agree).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ZENODO_MEDMNIST = "https://zenodo.org/records/10519652/files"
KERAS_WEIGHTS = "https://storage.googleapis.com/tensorflow/keras-applications"
MEDMNIST_CITATION = (
    "Yang J, Shi R, Wei D, et al. MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D "
    "biomedical image classification. Scientific Data. 2023;10:41. doi:10.1038/s41597-022-01721-8"
)

MSD_CITATION = ("Antonelli M, Reinke A, Bakas S, et al. The Medical Segmentation Decathlon. Nature Communications. "
                "2022;13:4128. doi:10.1038/s41467-022-30695-9")
# BCCD's GitHub commit whose archive `radkit fetch bccd` downloads (its files match the course's copy; notebook 07).
BCCD_COMMIT = "135df0221baca7b51c18190791522ddeba8fddbf"
NIH_CITATION = ("Wang X, Peng Y, Lu L, et al. ChestX-ray8: Hospital-scale chest X-ray database and benchmarks on "
                "weakly-supervised classification and localization of common thorax diseases. CVPR 2017.")


@dataclass(frozen=True)
class DataFile:
    """One downloadable file: its name, where it comes from and its MD5 checksum."""

    name: str
    url: str
    md5: str
    sha256: str = ""  # pretrained weights are checked by SHA-256 (notebook 04)
    unpack: str = ""  # for an archive: the folder inside it that is the dataset (notebook 07's BCCD)
    contents_sha256: str = ""  # download.folder_digest of that folder, when the archive's own checksum is unknown


@dataclass(frozen=True)
class Dataset:
    """A dataset card."""

    key: str
    title: str
    task: str
    description: str
    source: str
    licence: str
    citation: str
    label_names: tuple[str, ...]
    splits: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)  # variant (e.g. image size) -> DataFile
    notes: str = ""
    folder: str = ""  # the dataset's folder inside a data folder, when it is not named like the key

    @property
    def folder_name(self) -> str:
        """The folder this dataset's files live in, inside RADKIT_LOCAL_DATA or the data folder."""
        return self.folder or self.key

    def file(self, variant) -> DataFile:
        """The file for one variant (for MedMNIST, the image size: 28, 64, 128 or 224)."""
        from radkit.errors import RadkitError

        if variant not in self.files:
            raise RadkitError(
                f"{self.title} has no variant {variant!r}.",
                f"Choose one of: {', '.join(str(v) for v in self.files)}.",
            )
        return self.files[variant]


def _medmnist(key: str, title: str, md5s: dict, **card) -> Dataset:
    files = {
        size: DataFile(
            name=f"{key}.npz" if size == 28 else f"{key}_{size}.npz",
            url=f"{ZENODO_MEDMNIST}/{key}.npz?download=1" if size == 28 else f"{ZENODO_MEDMNIST}/{key}_{size}.npz?download=1",
            md5=md5,
        )
        for size, md5 in md5s.items()
    }
    return Dataset(key=key, title=title, source="https://medmnist.com (files on Zenodo, record 10519652)",
                   licence="CC BY 4.0", citation=MEDMNIST_CITATION, files=files, **card)


DATASETS: dict[str, Dataset] = {
    d.key: d
    for d in [
        _medmnist(
            "pneumoniamnist", "PneumoniaMNIST", task="binary classification (chest X-ray)",
            description="Paediatric chest X-rays (Guangzhou Women and Children's Medical Center), normal or pneumonia, "
                        "resized to square greyscale images.",
            label_names=("normal", "pneumonia"),
            splits={"train": 4708, "val": 524, "test": 624},
            md5s={28: "28209eda62fecd6e6a2d98b1501bb15f", 64: "8f4eceb4ccffa70c672198ea285246c6",
                  128: "05b46931834c231683c68f40c47b2971", 224: "d6a3c71de1b945ea11211b03746c1fe1"},
            notes="Splits are by patient in the original data; about 74% of training images show pneumonia.",
        ),
        _medmnist(
            "breastmnist", "BreastMNIST", task="binary classification (breast ultrasound)",
            description="Breast ultrasound images, malignant versus normal or benign.",
            label_names=("malignant", "normal or benign"),
            splits={"train": 546, "val": 78, "test": 156},
            md5s={28: "750601b1f35ba3300ea97c75c52ff8f6", 64: "742edef2a1fd1524b2efff4bd7ba9364",
                  128: "363e4b3f8d712e9b5de15470a2aaadf1", 224: "b56378a6eefa9fed602bb16d192d4c8b"},
        ),
        _medmnist(
            "chestmnist", "ChestMNIST", task="multi-label classification (chest X-ray, 14 findings)",
            description="NIH ChestX-ray14 frontal chest X-rays with 14 text-mined findings per image.",
            label_names=("atelectasis", "cardiomegaly", "effusion", "infiltration", "mass", "nodule", "pneumonia",
                         "pneumothorax", "consolidation", "edema", "emphysema", "fibrosis", "pleural", "hernia"),
            splits={"train": 78468, "val": 11219, "test": 22433},
            md5s={28: "02c8a6516a18b556561a56cbdd36c4a8", 64: "9de6cd0b934ebb5b7426cfba5efbae16",
                  128: "db107e5590b27930b62dbaf558aebee3", 224: "45bd33e6f06c3e8cdb481c74a89152aa"},
            notes="Labels were mined from reports by NLP and are noisy.",
        ),
        Dataset(
            key="nih_cxr_subset", title="NIH ChestX-ray14, a 1,000-film teaching subset",
            task="multi-label classification, dataset shift, subgroups (notebooks 06 and 10)",
            description="Adult frontal chest X-rays from NIH ChestX-ray14: 500 labelled Pneumonia and 500 No Finding "
                        "(682 patients; AP 567 / PA 433), shrunk to 256 x 256 grey, with NIH's report-mined findings "
                        "(14, joined by |), patient ID, age, sex and view, and 39 films with radiologist-adjudicated "
                        "labels (Google 2019).",
            source="NIH Clinical Center, https://nihcc.app.box.com/v/ChestXray-NIHCC; the same PNG files one at a "
                   "time from the public cloud mirror (Google Cloud bucket gcs-public-data--healthcare-nih-chest-xray)",
            licence="Free to use with attribution: acknowledge the NIH Clinical Center",
            citation=NIH_CITATION + " Expert labels: Majkowska A, et al. Radiology. 2020;294:421-431.",
            label_names=("Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
                         "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening",
                         "Hernia"),
            splits={"films": 1000, "patients": 682},
            notes="Read from a folder nih_cxr_subset/ (Data_Entry_subset.csv and images/) in RADKIT_LOCAL_DATA or "
                  "the data folder. `radkit fetch nih_cxr_subset` makes it in the data folder: it chooses 500 adult "
                  "films with Pneumonia and 500 with No Finding (seeded) from NIH's public Data_Entry_2017 table "
                  "(download it from the NIH page into nih_cxr_subset/ first) and downloads those PNGs one at a "
                  "time (radkit.nih; Google's copy is Requester Pays: see radkit/nih.py). These are not the same "
                  "1,000 films as the shared teaching copy. Labels were mined from reports by NLP and are noisy. "
                  "Not a random sample: pneumonia is 50 %, and view is tied to the label (No Finding mostly AP).",
        ),
        Dataset(
            key="msd_heart", title="Medical Segmentation Decathlon, Task02 Heart",
            task="3-D segmentation (left atrium, MRI)",
            description="30 mono-modal MRI volumes of the heart (20 labelled) with the left atrium outlined.",
            source="http://medicaldecathlon.com (tar as MONAI's DecathlonDataset fetches it)",
            licence="CC BY-SA 4.0",
            citation=MSD_CITATION,
            label_names=("background", "left atrium"),
            splits={"labelled": 20, "unlabelled": 10},
            files={"all": DataFile("Task02_Heart.tar",
                                   "https://msd-for-monai.s3-us-west-2.amazonaws.com/Task02_Heart.tar",
                                   "06ee59366e1e5124267b774dbd654057")},
            notes="NIfTI volumes in the Decathlon layout; about 435 MB to download (URL and MD5 as MONAI's "
                  "DecathlonDataset lists them). An online option for notebook 08, not used by it (too large for a "
                  "workshop network): `radkit fetch msd_heart`, then radkit.volumes.load_decathlon('msd_heart') "
                  "unpacks it safely and reads it. Notebook 08's phantoms have a left-atrium-like label instead.",
        ),
        Dataset(
            key="keras_weights", title="Keras ImageNet weights (pretrained networks)",
            task="transfer learning (notebook 04)",
            description="Keras' official ImageNet weights for MobileNetV2 (alpha 0.35, trained on 224 px photos), "
                        "without the classification top: the detectors a transfer model reuses. They also load into "
                        "a 96 or 128 px model, because convolution weights do not depend on the picture size.",
            source="https://keras.io/api/applications/ (files on storage.googleapis.com, as Keras downloads them)",
            licence="Apache 2.0 (Keras Applications)",
            citation="Sandler M, Howard A, Zhu M, Zhmoginov A, Chen LC. MobileNetV2: Inverted residuals and linear "
                     "bottlenecks. CVPR 2018. doi:10.1109/CVPR.2018.00474",
            label_names=(),
            files={"mobilenetv2_0.35": DataFile(
                "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5",
                f"{KERAS_WEIGHTS}/mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5",
                "581504c23062b15d3059e9caf4c2c39b",
                sha256="df1c3db1d0d9193719c4c70f707c56f7021f999f825bdc57454c275cf6def19f")},
            notes="About 2 MB. radkit.models.transfer_model finds the file in RADKIT_LOCAL_DATA, the data folder or "
                  "Keras' own folder (~/.keras/models), checked by SHA-256; otherwise it downloads it once. "
                  "RadKit does not ship the file (it holds only what it made itself); with no copy and no internet "
                  "notebook 04 trains from random weights, says so, and shows its stored results with the weights "
                  "beside (radkit/pretrained/README.md).",
        ),
        Dataset(
            key="msd_hippocampus", title="Medical Segmentation Decathlon, Task04 Hippocampus",
            task="3-D segmentation (hippocampus, MRI; notebook 08)",
            description="Cropped T2-weighted brain MRI around the hippocampus (Vanderbilt University Medical Center), "
                        "about 35 x 50 x 35 voxels of 1 mm, with the anterior and posterior hippocampus outlined.",
            source="http://medicaldecathlon.com (tar as MONAI's DecathlonDataset fetches it)",
            licence="CC BY-SA 4.0",
            citation=MSD_CITATION,
            label_names=("background", "anterior", "posterior"),
            splits={"labelled": 260, "unlabelled": 130},
            files={"all": DataFile("Task04_Hippocampus.tar",
                                   "https://msd-for-monai.s3-us-west-2.amazonaws.com/Task04_Hippocampus.tar",
                                   "9d24dba78a72977dbd1d2e110310f31b")},
            notes="NIfTI volumes in the Decathlon layout (dataset.json, imagesTr/, labelsTr/); about 27 MB to download, "
                  "unpacked safely by radkit.download.extract_tar. Hippocampal volume is a clinical measurement "
                  "(atrophy in Alzheimer's disease).",
        ),
        Dataset(
            key="nih_heart_boxes", title="NIH ChestX-ray14 heart boxes (Cardiomegaly)",
            task="box regression (heart on frontal chest X-rays), notebook 07",
            description="146 frontal NIH ChestX-ray14 films (1024 x 1024; 68 AP, 78 PA) with the NIH radiologists' "
                        "box around the heart, drawn for the finding Cardiomegaly: every heart in this set is enlarged.",
            source="https://nihcc.app.box.com/v/ChestXray-NIHCC (BBox_List_2017.csv and the images it names)",
            licence="NIH: use unrestricted, with attribution (acknowledge the NIH Clinical Center)",
            citation=NIH_CITATION,
            label_names=("heart",),
            splits={"films": 146},
            folder="cxr_heart_boxes",
            notes="RadKit reads cxr_heart_boxes/BBox_List_Cardiomegaly.csv with images/ and Data_Entry_subset.csv from "
                  "RADKIT_LOCAL_DATA or the data folder, and splits by patient (60/20/20 %). Boxes are in NIH's x, y, "
                  "w, h pixels of the 1024 image. Without them notebook 07 uses the phantoms' heart boxes. "
                  "`radkit fetch nih_heart_boxes` makes the folder in the data folder from NIH's public "
                  "BBox_List_2017.csv and Data_Entry_2017 table (put both in cxr_heart_boxes/ first) and downloads "
                  "the films one at a time (radkit.nih), as PNGs.",
        ),
        Dataset(
            key="bccd", title="BCCD blood cell detection",
            task="object detection (red cells, white cells, platelets on blood smears), notebook 07",
            description="364 blood smear pictures (640 x 480, colour) with boxes for RBC, WBC and Platelets, in Pascal "
                        "VOC format, with train (205), val (87) and test (72) lists.",
            source="https://github.com/Shenggan/BCCD_Dataset (the archive of commit "
                   f"{BCCD_COMMIT[:7]}, as GitHub serves it)",
            licence="MIT",
            citation="Shenggan. BCCD Dataset: a small-scale dataset for blood cells detection. GitHub, 2017. "
                     "Original data from cosmicad and akshaylamba.",
            label_names=("RBC", "WBC", "Platelets"),
            splits={"train": 205, "val": 87, "test": 72},
            files={"all": DataFile(f"BCCD_Dataset-{BCCD_COMMIT}.tar.gz",
                                   f"https://github.com/Shenggan/BCCD_Dataset/archive/{BCCD_COMMIT}.tar.gz",
                                   md5="", unpack=f"BCCD_Dataset-{BCCD_COMMIT}/BCCD",
                                   contents_sha256="0bb479c7ed1c5f1e410e8e3c1b9a1565ee37feeb8e6375f6c93534deebf720c1")},
            notes="`radkit fetch bccd` downloads the archive of one pinned commit (about 8 MB), unpacks it safely and "
                  "keeps bccd/BCCD/{Annotations,JPEGImages,ImageSets}; RadKit reads that folder from RADKIT_LOCAL_DATA "
                  "or the data folder. The archive's own checksum is UNVERIFIED: GitHub publishes none and this "
                  "archive could not be downloaded where RadKit was built (no internet). Instead the unpacked files "
                  "are checked one by one (radkit.download.folder_digest, hidden files left out) against the "
                  "course's copy, whose annotation and split files match the repository at that commit; files that "
                  "differ are used but called UNVERIFIED. Two published boxes have zero size (BloodImage_00338, "
                  "BloodImage_00343): they are skipped with a note. Without BCCD notebook 07 uses practice smears. "
                  "BCCD's red-cell boxes are incomplete on some smears (plain red cells left unboxed, clumps boxed as "
                  "one): a count judged against them is only as good as the boxes, and notebook 07 shows the most "
                  "miscounted test smears beside their boxes.",
        ),
        Dataset(
            key="pydicom_data", title="pydicom-data example DICOM files",
            task="DICOM reading (notebook 01)",
            description="Real DICOM files shipped with the pydicom-data package: a chest CR (1955x1841, MONOCHROME1), "
                        "CT and MR images, compressed variants.",
            source="https://github.com/pydicom/pydicom-data",
            licence="MIT (package); images from public DICOM test sets",
            citation="Mason D, et al. pydicom: An open source DICOM library. https://github.com/pydicom/pydicom",
            label_names=(),
            notes="Installed with radkit, so always available offline.",
        ),
        Dataset(
            key="phantoms", title="RadKit phantoms (generated)",
            task="offline stand-in for every task",
            description="Chest X-ray-like drawings with and without pneumonia-like opacities (with heart boxes and "
                        "lung masks) and MRI-like volumes with a left-atrium-like label, generated by radkit.phantoms "
                        "from a seed. Not real patients.",
            source="radkit/phantoms.py (generated on your computer)",
            licence="MIT",
            citation="RadKit course materials.",
            label_names=("normal", "pneumonia"),
            notes="Used whenever real data cannot be found or downloaded. Deterministic for a given seed.",
        ),
    ]
}


def get(key: str) -> Dataset:
    """Return the card of dataset ``key`` (for example ``"pneumoniamnist"``)."""
    from radkit.errors import RadkitError

    if key not in DATASETS:
        raise RadkitError(f"There is no dataset called {key!r}.", f"Choose one of: {', '.join(DATASETS)}.")
    return DATASETS[key]


def card_markdown(dataset: Dataset) -> str:
    """The human-readable card of a dataset, as written to ``datasets/<key>.md``."""
    lines = [
        f"# {dataset.title}",
        "",
        "<!-- Written by `radkit cards` from radkit/registry.py: edit there, not here. -->",
        "",
        dataset.description,
        "",
        f"- **Task:** {dataset.task}",
        f"- **Source:** {dataset.source}",
        f"- **Licence:** {dataset.licence}",
        f"- **Cite:** {dataset.citation}",
    ]
    if dataset.label_names:
        lines.append("- **Labels:** " + ", ".join(f"{i} = {n}" for i, n in enumerate(dataset.label_names)))
    if dataset.splits:
        lines.append("- **Splits:** " + ", ".join(f"{k} {v:,}" for k, v in dataset.splits.items()))
    if dataset.notes:
        lines.append(f"- **Notes:** {dataset.notes}")
    if dataset.files:
        lines += ["", "| variant | file | MD5 | download from |", "|---|---|---|---|"]
        lines += [f"| {v} | `{f.name}` | {f'`{f.md5}`' if f.md5 else 'none published (files checked instead)'} | {f.url} |"
                  for v, f in dataset.files.items()]
        lines += [f"\nSHA-256 of `{f.name}`: `{f.sha256}`" for f in dataset.files.values() if f.sha256]
        lines += ["", f"Fetch in advance (for a workshop): `radkit fetch {dataset.key}`."]
    return "\n".join(lines) + "\n"
