"""Training and evaluation of the detector (extra `train` for the torch parts).

Label loaders, resampling to satellite GSD, generated objects and evaluation are numpy only;
the model, the training loop and the ONNX export import torch lazily.
"""
