"""Chinese licence-plate recognition: a ConvNeXt + transformer CTC recogniser for ModelScope.

``import plate_ocr`` registers the model, preprocessor and pipeline with ModelScope when
ModelScope is installed; the engine (:class:`plate_ocr.reader.PlateReader`) needs only torch,
numpy, Pillow and OpenCV.
"""

import importlib.util

__version__ = "0.1.0"

if importlib.util.find_spec("modelscope") is not None:  # registration is the point of importing us
    from . import modelscope_adapter  # noqa: F401
    from .modelscope_adapter import use_for_upstream_models  # noqa: F401
