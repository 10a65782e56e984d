package dev.gatun.distributed;

/** An MPI call returned an error code; the message names the call, the code and MPI's text for it. */
public final class MpiException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The error code MPI returned. */
    private final int code;

    /**
     * An error of an MPI call.
     *
     * @param call the MPI function, e.g. {@code MPI_Allreduce}
     * @param code the error code it returned
     * @param text MPI's description of the code ({@code MPI_Error_string})
     */
    public MpiException(String call, int code, String text) {
        super(call + " failed with error " + code + ": " + text);
        this.code = code;
    }

    /**
     * The error code MPI returned.
     *
     * @return the code, not {@code MPI_SUCCESS}
     */
    public int code() {
        return code;
    }
}
