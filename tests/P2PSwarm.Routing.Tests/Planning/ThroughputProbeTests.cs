using P2PSwarm.Routing.Planning;

namespace P2PSwarm.Routing.Tests.Planning;

public sealed class ThroughputProbeTests
{
    [Fact]
    public void The_median_takes_the_middle_value_or_the_mean_of_the_middle_two()
    {
        Assert.Equal(3, ThroughputProbe.Median(new double[] { 9, 1, 3 }));
        Assert.Equal(2.5, ThroughputProbe.Median(new double[] { 4, 1, 3, 2 }));
        Assert.Throws<ArgumentException>(() => ThroughputProbe.Median(Span<double>.Empty));
    }

    [Fact]
    public void With_no_time_budget_it_runs_the_warmup_and_exactly_the_minimum_steps()
    {
        int calls = 0;
        ThroughputProbe.MedianStepMilliseconds(() => calls++, new ProbeSettings(WarmupSteps: 3, MinSteps: 5, MaxSteps: 50, Budget: TimeSpan.Zero));

        Assert.Equal(8, calls);
    }

    [Fact]
    public void With_a_long_budget_it_stops_at_the_maximum_steps()
    {
        int calls = 0;
        ThroughputProbe.MedianStepMilliseconds(() => calls++, new ProbeSettings(WarmupSteps: 2, MinSteps: 5, MaxSteps: 40, Budget: TimeSpan.FromMinutes(10)));

        Assert.Equal(42, calls);
    }

    [Fact]
    public void A_few_slow_steps_do_not_move_the_median()
    {
        // Steps 1 and 2 (untimed warm-up) and 5 and 9 (timed) stall for 60 ms, as a busy machine would make them.
        int calls = 0;
        double median = ThroughputProbe.MedianStepMilliseconds(
            () =>
            {
                calls++;
                if (calls is 1 or 2 or 5 or 9)
                {
                    Thread.Sleep(60);
                }
            },
            new ProbeSettings(WarmupSteps: 2, MinSteps: 15, MaxSteps: 15, Budget: TimeSpan.Zero));

        Assert.True(median < 30, $"median {median} ms follows the stalls");
    }

    [Fact]
    public void Settings_that_cannot_run_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ThroughputProbe.MedianStepMilliseconds(() => { }, new ProbeSettings(0, 0, 5, TimeSpan.Zero)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ThroughputProbe.MedianStepMilliseconds(() => { }, new ProbeSettings(0, 6, 5, TimeSpan.Zero)));
    }
}
