using SlmStudio.Core.Data;

namespace SlmStudio.Web.Services;

/// <summary>What an open data step hears: extraction progress, and when files changed.</summary>
public sealed record DataUpdate(int ProjectId, DataProgress? Progress, bool FilesChanged = false, bool Finished = false) : INotification
{
    int INotification.SubjectId => ProjectId;
}

/// <summary>A project's data preparation progress for the data steps that show it, keyed by project id.</summary>
public sealed class DataNotifier(ILogger<DataNotifier> logger) : Notifier<DataUpdate>(logger);
