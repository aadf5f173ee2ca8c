"""ModelScope entry point: the plate image preprocessor (the code lives in ``plate_ocr``)."""

try:  # ModelScope's remote-code route imports this file as ``<model dir>.preprocessor``
    from .plate_ocr.modelscope_adapter import PlateOCRPreprocessor
except ImportError:  # the installed package, or this file run from the repository root
    from plate_ocr.modelscope_adapter import PlateOCRPreprocessor

__all__ = ["PlateOCRPreprocessor"]
