#ifndef PLUTUS_CZLIB_H
#define PLUTUS_CZLIB_H

#include <stddef.h>

/// Inflates a gzip (or zlib) stream from `input` into `output`, writing at most `capacity`
/// bytes. Returns the number of bytes written; -1 when the input is not a whole, valid
/// stream; -2 when the output would exceed `capacity` (a body that inflates past the limit).
long plutus_gunzip(const unsigned char *input, size_t input_length, unsigned char *output, size_t capacity);

#endif
