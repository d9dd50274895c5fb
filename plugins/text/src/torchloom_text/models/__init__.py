"""AWD-LSTM language model and ULMFiT classifier."""
