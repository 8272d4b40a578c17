"""Pure payment model: the Payment aggregate and the events it records. No I/O."""
