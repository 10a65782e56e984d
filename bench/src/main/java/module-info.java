/** JMH benchmarks of gatun. Run them from benchmarks.jar (class path); this descriptor documents the reads. */
module dev.gatun.bench {
    requires dev.gatun.engine;
    requires jmh.core;
    requires org.knowm.xchart;
}
