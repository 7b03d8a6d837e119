using SlmStudio.Core.Training;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Services;

/// <summary>What an open run page hears: a trainer event, a status change, or both.</summary>
public sealed record RunUpdate(int RunId, TrainingEvent? Event, RunStatus? Status = null) : INotification
{
    int INotification.SubjectId => RunId;
}

/// <summary>
/// Run progress for the run pages, keyed by run id. With a <see cref="IRunUpdateRelay"/> (PostgreSQL), updates published
/// in a worker process also reach the pages of the portal processes, and theirs reach this one's.
/// </summary>
public sealed class RunNotifier : Notifier<RunUpdate>
{
    private readonly IRunUpdateRelay? _relay;

    public RunNotifier(ILogger<RunNotifier> logger, IRunUpdateRelay? relay = null) : base(logger)
    {
        _relay = relay;
        relay?.OnReceived(PublishHere);
    }

    protected override void Published(RunUpdate update) => _relay?.Send(update);
}
