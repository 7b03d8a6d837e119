using System.Collections.Concurrent;
using SlmStudio.Web.Training;

namespace SlmStudio.Web.Services;

/// <summary>What an open run page hears: a trainer event, a status change, or both.</summary>
public sealed record RunUpdate(int RunId, SlmStudio.Core.Training.TrainingEvent? Event, Data.RunStatus? Status = null);

/// <summary>
/// In-process fan-out of run progress to the pages that show it. A page subscribes and disposes the subscription;
/// a slow or broken subscriber never holds up the training job.
/// </summary>
public sealed class RunNotifier(ILogger<RunNotifier> logger)
{
    private readonly ConcurrentDictionary<int, ConcurrentDictionary<Guid, Func<RunUpdate, Task>>> _subscribers = new();

    public IDisposable Subscribe(int runId, Func<RunUpdate, Task> handler)
    {
        var id = Guid.NewGuid();
        _subscribers.GetOrAdd(runId, _ => new())[id] = handler;
        return new Subscription(() =>
        {
            if (_subscribers.TryGetValue(runId, out var handlers)) handlers.TryRemove(id, out _);
        });
    }

    public int SubscriberCount(int runId) => _subscribers.TryGetValue(runId, out var h) ? h.Count : 0;

    public void Publish(RunUpdate update)
    {
        if (!_subscribers.TryGetValue(update.RunId, out var handlers)) return;
        foreach (var handler in handlers.Values)
            _ = Deliver(handler, update);
    }

    private async Task Deliver(Func<RunUpdate, Task> handler, RunUpdate update)
    {
        try { await handler(update); }
        catch (Exception e) { logger.LogWarning(e, "A page failed to take an update of run {RunId}", update.RunId); }
    }

    private sealed class Subscription(Action dispose) : IDisposable
    {
        private int _disposed;
        public void Dispose() { if (Interlocked.Exchange(ref _disposed, 1) == 0) dispose(); }
    }
}
