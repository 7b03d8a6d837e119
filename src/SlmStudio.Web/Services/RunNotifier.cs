using SlmStudio.Core.Training;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Services;

/// <summary>What an open run page hears: a trainer event, a status change, or both.</summary>
public sealed record RunUpdate(int RunId, TrainingEvent? Event, RunStatus? Status = null) : INotification
{
    int INotification.SubjectId => RunId;
}

/// <summary>Run progress for the run pages, keyed by run id.</summary>
public sealed class RunNotifier(ILogger<RunNotifier> logger) : Notifier<RunUpdate>(logger);
