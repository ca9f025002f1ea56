// Module ModelIO.
