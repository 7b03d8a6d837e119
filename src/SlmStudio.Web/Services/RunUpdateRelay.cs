using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Npgsql;
using SlmStudio.Core.Training;
using SlmStudio.Web.Data;
using SlmStudio.Web.Options;

namespace SlmStudio.Web.Services;

/// <summary>Carries run updates between the processes that share one database (workers to portals).</summary>
public interface IRunUpdateRelay
{
    /// <summary>Hands an update published in this process to the others; never blocks, never throws.</summary>
    void Send(RunUpdate update);

    /// <summary>Where updates from other processes are delivered (the run notifier's own subscribers).</summary>
    void OnReceived(Action<RunUpdate> deliver);
}

/// <summary>
/// PostgreSQL LISTEN/NOTIFY between processes: a worker's progress reaches the run pages of every portal as it happens,
/// instead of when a page next reads the database. Best effort by design: the database rows stay the record, and a page
/// that hears nothing for a while reads them (RunPage's fallback). Sends go through a bounded queue and their own
/// connection, so a slow or unreachable database never holds up a training; the listening connection reconnects after
/// a database restart.
/// </summary>
public sealed class PostgresRunUpdateRelay(IOptions<DatabaseOptions> database, ILogger<PostgresRunUpdateRelay> logger) : BackgroundService, IRunUpdateRelay
{
    /// <summary>The NOTIFY channel. PostgreSQL delivers within one database, so portals on other databases never mix.</summary>
    public const string ChannelName = "slm_run_updates";
    /// <summary>PostgreSQL refuses payloads of 8000 bytes or more; a larger event is sent without its figures, as a
    /// "reload the run" update.</summary>
    private const int MaxPayloadBytes = 7900;

    /// <summary>Tells this relay's own notifications, which come back to it, from the others'.</summary>
    private readonly string _origin = $"{Jobs.RunLeases.InstanceId}:{Guid.NewGuid():N}";
    private readonly Channel<RunUpdate> _outgoing = Channel.CreateBounded<RunUpdate>(new BoundedChannelOptions(10_000)
    {
        FullMode = BoundedChannelFullMode.DropOldest,
        SingleReader = true,
    });
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Action<RunUpdate>? _deliver;
    private NpgsqlDataSource? _dataSource;

    /// <summary>Completes once this process listens (the first time).</summary>
    public Task Listening => _listening.Task;

    public void Send(RunUpdate update) => _outgoing.Writer.TryWrite(update);

    public void OnReceived(Action<RunUpdate> deliver) => _deliver = deliver;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        _dataSource = NpgsqlDataSource.Create(database.Value.ConnectionString!);
        await base.StartAsync(cancellationToken);
        // Pages opened right after start-up should hear updates; a database that is down does not hold up the start.
        await Task.WhenAny(_listening.Task, Task.Delay(TimeSpan.FromSeconds(10), cancellationToken));
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(ListenAsync(stoppingToken), SendAsync(stoppingToken));

    private async Task ListenAsync(CancellationToken stop)
    {
        var pause = TimeSpan.FromSeconds(1);
        var lost = false;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _dataSource!.OpenConnectionAsync(stop);
                connection.Notification += (_, n) => Receive(n.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {ChannelName}", connection)) await listen.ExecuteNonQueryAsync(stop);
                _listening.TrySetResult();
                if (lost) logger.LogInformation("Live run progress from other servers is back");
                (lost, pause) = (false, TimeSpan.FromSeconds(1));
                while (true) await connection.WaitAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { return; }
            catch (Exception e) when (e is NpgsqlException or IOException or InvalidOperationException)
            {
                if (!lost) logger.LogWarning(e, "Live run progress from other servers stopped: the database cannot be reached. Reconnecting; run pages read the database meanwhile");
                lost = true;
                try { await Task.Delay(pause, stop); } catch (OperationCanceledException) { return; }
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }

    private async Task SendAsync(CancellationToken stop)
    {
        var failing = false;
        try
        {
            await foreach (var update in _outgoing.Reader.ReadAllAsync(stop))
            {
                try
                {
                    await using var command = _dataSource!.CreateCommand("SELECT pg_notify(@channel, @payload)");
                    command.Parameters.AddWithValue("channel", ChannelName);
                    command.Parameters.AddWithValue("payload", Serialize(update, _origin));
                    await command.ExecuteNonQueryAsync(stop);
                    failing = false;
                }
                catch (Exception e) when (e is NpgsqlException or IOException or InvalidOperationException)
                {
                    // Lost updates cost only liveliness: the progress itself is in the database.
                    if (!failing) logger.LogWarning(e, "Run progress could not be passed on to the other servers; their pages read it from the database");
                    failing = true;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
    }

    public static string Serialize(RunUpdate update, string origin)
    {
        var message = new Message(origin, update.RunId, update.Status, update.Event?.ToJsonLine());
        var json = JsonSerializer.Serialize(message);
        if (System.Text.Encoding.UTF8.GetByteCount(json) > MaxPayloadBytes)
            json = JsonSerializer.Serialize(message with { Event = null, Status = update.Status ?? RunStatus.Running });
        return json;
    }

    private void Receive(string payload)
    {
        try
        {
            var message = JsonSerializer.Deserialize<Message>(payload);
            // Our own notifications come back to us too; our pages heard those already.
            if (message is null || message.Origin == _origin) return;
            _deliver?.Invoke(new RunUpdate(message.RunId, TrainingEvent.Parse(message.Event), message.Status));
        }
        catch (JsonException e) { logger.LogWarning(e, "Ignored a run update that could not be read"); }
    }

    public override void Dispose()
    {
        base.Dispose();
        _dataSource?.Dispose();
    }

    private sealed record Message(string Origin, int RunId, RunStatus? Status, string? Event);
}

public static class RunUpdateRelayRegistration
{
    /// <summary>With PostgreSQL, run updates travel between processes (<see cref="PostgresRunUpdateRelay"/>); with SQLite
    /// (one process) the run notifier stays in-process.</summary>
    public static void AddRunUpdateRelay(this WebApplicationBuilder builder)
    {
        if (!DatabaseOptions.From(builder.Configuration).IsPostgreSql) return;
        builder.Services.AddSingleton<PostgresRunUpdateRelay>();
        builder.Services.AddSingleton<IRunUpdateRelay>(sp => sp.GetRequiredService<PostgresRunUpdateRelay>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<PostgresRunUpdateRelay>());
    }
}
