package dev.gatun.backend;

/** A oneDNN call returned a status other than {@code dnnl_success}. */
public final class DnnlException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int status;

    public DnnlException(String call, int status, String detail) {
        super(call + " failed with " + OneDnn.statusName(status) + " (" + status + ")"
                + (detail == null || detail.isEmpty() ? "" : ": " + detail));
        this.call = call;
        this.status = status;
    }

    /** The name of the oneDNN C function that failed. */
    public String call() {
        return call;
    }

    /** The raw {@code dnnl_status_t} value. */
    public int status() {
        return status;
    }
}
