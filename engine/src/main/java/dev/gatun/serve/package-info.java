/**
 * Serving models: {@link dev.gatun.serve.InferenceSession} runs a model for any number of caller threads on
 * a bounded set of platform workers; {@link dev.gatun.serve.InferenceServer} answers the Open Inference
 * Protocol (KServe v2) over HTTP/JSON for sessions by name and version, with Prometheus metrics, on Netty
 * (chosen over the JDK's own HTTP server by measurement: a quarter more requests per second under load);
 * {@link dev.gatun.serve.ModelRepository} finds model files and watches them for replacement, and
 * {@link dev.gatun.serve.ModelLoader} reads them ({@code gatun serve} is the command).
 */
package dev.gatun.serve;
