using System.Collections.Concurrent;

namespace SlmStudio.Web.Services;

/// <summary>An update that belongs to one subject (a run, a project), so only that subject's pages hear it.</summary>
public interface INotification
{
    int SubjectId { get; }
}

/// <summary>
/// In-process fan-out of updates to the pages that show them. A page subscribes and disposes the subscription;
/// a slow or broken subscriber never holds up the job that publishes. A handler runs as the person who subscribed
/// (<see cref="Security.StudioUserContext"/>), not as the background job that publishes, so what it loads is filtered
/// for that person.
/// </summary>
public class Notifier<TUpdate>(ILogger logger) where TUpdate : INotification
{
    private readonly ConcurrentDictionary<int, ConcurrentDictionary<Guid, (Func<TUpdate, Task> Handler, System.Security.Claims.ClaimsPrincipal? User)>> _subscribers = new();

    public IDisposable Subscribe(int subjectId, Func<TUpdate, Task> handler)
    {
        var id = Guid.NewGuid();
        _subscribers.GetOrAdd(subjectId, _ => new())[id] = (handler, Security.StudioUserContext.Current);
        return new Subscription(() =>
        {
            if (_subscribers.TryGetValue(subjectId, out var handlers)) handlers.TryRemove(id, out _);
        });
    }

    public int SubscriberCount(int subjectId) => _subscribers.TryGetValue(subjectId, out var h) ? h.Count : 0;

    /// <summary>Tells this process's subscribers, then <see cref="Published"/> (which may carry it to other processes).</summary>
    public void Publish(TUpdate update)
    {
        PublishHere(update);
        Published(update);
    }

    /// <summary>Called after every <see cref="Publish"/>; not for updates that came from another process.</summary>
    protected virtual void Published(TUpdate update) { }

    /// <summary>Tells this process's subscribers only.</summary>
    protected void PublishHere(TUpdate update)
    {
        if (!_subscribers.TryGetValue(update.SubjectId, out var handlers)) return;
        foreach (var (handler, user) in handlers.Values)
            _ = Deliver(handler, user, update);
    }

    private async Task Deliver(Func<TUpdate, Task> handler, System.Security.Claims.ClaimsPrincipal? user, TUpdate update)
    {
        using var asSubscriber = Security.StudioUserContext.Use(user);
        try { await handler(update); }
        catch (Exception e) { logger.LogWarning(e, "A page failed to take {UpdateType} of {SubjectId}", typeof(TUpdate).Name, update.SubjectId); }
    }

    private sealed class Subscription(Action dispose) : IDisposable
    {
        private int _disposed;
        public void Dispose() { if (Interlocked.Exchange(ref _disposed, 1) == 0) dispose(); }
    }
}
