//! OCI distribution of meshroom products.
