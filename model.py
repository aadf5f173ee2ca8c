"""ModelScope entry point: the plate recogniser model (the code lives in ``plate_ocr``)."""

try:  # ModelScope's remote-code route imports this file as ``<model dir>.model``
    from .plate_ocr.modelscope_adapter import PlateOCRModel
except ImportError:  # the installed package, or this file run from the repository root
    from plate_ocr.modelscope_adapter import PlateOCRModel

__all__ = ["PlateOCRModel"]
