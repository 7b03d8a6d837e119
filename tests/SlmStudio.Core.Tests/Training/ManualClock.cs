namespace SlmStudio.Core.Tests.Training;

/// <summary>
/// A clock that moves only when told to (or by a fixed amount each time it is read), so that time-budget tests do not
/// depend on how fast this machine is or how busy it is.
/// </summary>
public sealed class ManualClock : TimeProvider
{
    private long _ticks;

    /// <summary>How far the clock moves every time a timestamp is read; zero for a clock that moves only on <see cref="Advance"/>.</summary>
    public TimeSpan AdvancePerRead { get; init; }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Add(ref _ticks, AdvancePerRead.Ticks);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
