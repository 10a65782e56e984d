/**
 * Model files: reading and writing tensors in the
 * <a href="https://github.com/huggingface/safetensors">safetensors</a> format, which PyTorch and the
 * Hugging Face tools read and write too.
 *
 * <p>{@link dev.gatun.io.ModelFile} saves a model's weights under PyTorch's {@code state_dict} names,
 * with its architecture in the file's metadata, and loads them back: into a model the caller built
 * ({@link dev.gatun.io.ModelFile#loadInto(dev.gatun.nn.Module, java.nio.file.Path)}, which also takes
 * files written by PyTorch) or into a model rebuilt from the metadata
 * ({@link dev.gatun.io.ModelFile#load(java.nio.file.Path)}). {@link dev.gatun.io.SafeTensors} is the
 * format itself: a validating reader over a memory-mapped file and an atomic writer.
 *
 * <p>Files are untrusted input. Every rule of the format is checked before a byte of data is used, and a
 * file that breaks one, or does not fit the model it is loaded into, fails with a
 * {@link dev.gatun.io.ModelFileException} that names the file and every problem found. Writes go to a
 * temporary file that replaces the target only once complete, so a failed save never damages an
 * existing file.
 */
package dev.gatun.io;
