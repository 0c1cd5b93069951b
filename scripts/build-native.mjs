#!/usr/bin/env node
// Builds the native helper(s) in native/ when a C compiler is available. (Stub.)
