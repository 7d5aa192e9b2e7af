"""Framework integrations. Import the one you use; each imports its framework lazily:

    from runyard.integration.keras import RunyardCallback            # Keras 3 (any backend)
    from runyard.integration.lightning import RunyardLogger          # PyTorch Lightning
    import runyard.integration.transformers                          # Trainer(report_to="runyard")
    runyard.watch(model)                                             # PyTorch gradients/parameters
"""
