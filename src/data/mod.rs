//! Datasets: readers for the file formats that training data comes in.

pub mod idx;
