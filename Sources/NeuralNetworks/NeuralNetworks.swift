// Module NeuralNetworks.
