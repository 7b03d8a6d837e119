using SlmStudio.Core.Training;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Training;

/// <summary>
/// Stops a trainer politely first: the run folder's stop file makes it save a checkpoint and exit at its next step;
/// if it is still running after <paramref name="grace"/>, <see cref="Kill"/> fires and the launcher ends it.
/// </summary>
public sealed class TrainerStop(RunFolder folder, TimeSpan grace, ILogger logger) : IDisposable
{
    private readonly CancellationTokenSource _kill = new();

    /// <summary>Fires when the grace period after the first request ran out.</summary>
    public CancellationToken Kill => _kill.Token;

    /// <summary>What the run becomes when the trainer stops because it was asked: the latest request's reason.</summary>
    public RunStatus Reason { get; private set; } = RunStatus.Cancelled;

    public void Ask(RunStatus reason)
    {
        Reason = reason;
        try { File.WriteAllText(folder.CancelFile, reason.ToString()); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Without the file the trainer cannot save a checkpoint first; the kill after the grace period still stops it.
            logger.LogWarning(e, "Could not write the stop file {StopFile}; the trainer will be killed after {Grace} instead", folder.CancelFile, grace);
        }
        _kill.CancelAfter(grace);
    }

    public void Dispose() => _kill.Dispose();
}
