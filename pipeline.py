"""ModelScope entry point: the plate reading pipeline (the code lives in ``plate_ocr``)."""

try:  # ModelScope's remote-code route imports this file as ``<model dir>.pipeline``
    from .plate_ocr.modelscope_adapter import PlateOCRPipeline
except ImportError:  # the installed package, or this file run from the repository root
    from plate_ocr.modelscope_adapter import PlateOCRPipeline

__all__ = ["PlateOCRPipeline"]
