//! meshroom-sdk.
