// Module Datasets.
