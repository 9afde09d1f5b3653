"""Detection: tiling and merging (pure), the ONNX runtime adapter, the model registry."""
