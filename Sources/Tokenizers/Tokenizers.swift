// Module Tokenizers.
