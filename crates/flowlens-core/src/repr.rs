//! Representation: what the models see.
