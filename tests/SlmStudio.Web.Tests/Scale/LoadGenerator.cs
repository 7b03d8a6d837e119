using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace SlmStudio.Web.Tests.Scale;

/// <summary>What a load run measured. Refused requests (429 with Retry-After, 503 "busy") are not errors: the portal
/// said so on purpose and when to come back.</summary>
public sealed record LoadReport(int Users, TimeSpan Duration, int Completed, int Refused429, int Busy503, int Errors,
    IReadOnlyList<double> FirstTokenMilliseconds, IReadOnlyList<string> ErrorSamples)
{
    public double Percentile(double p)
    {
        if (FirstTokenMilliseconds.Count == 0) return double.NaN;
        var sorted = FirstTokenMilliseconds.Order().ToList();
        return sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
    }

    public override string ToString() =>
        $"{Users} users for {Duration.TotalSeconds:0} s: {Completed} completed ({Completed / Duration.TotalSeconds:0.0}/s), {Refused429} refused with 429, " +
        $"{Busy503} busy (503), {Errors} errors; time to first token p50 {Percentile(50):0} ms, p95 {Percentile(95):0} ms, max {(FirstTokenMilliseconds.Count > 0 ? FirstTokenMilliseconds.Max() : double.NaN):0} ms";
}

/// <summary>
/// Simulated API users: each one, with its own key, streams completions (POST /v1/completions, stream: true) one after
/// another for the duration, and measures the time to the first token. A refused user tries again once another user's
/// request has finished (the portal has room again), instead of sleeping for the Retry-After.
/// </summary>
public static class LoadGenerator
{
    public static async Task<LoadReport> RunAsync(Uri portal, IReadOnlyList<string> keys, string model, TimeSpan duration, int maxTokens = 16)
    {
        var firstTokens = new List<double>();
        var errors = new List<string>();
        int completed = 0, refused = 0, busy = 0, failed = 0;
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = keys.Count * 2, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        var end = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(duration);
        // Completed when any request finishes, then replaced: what a refused user waits for.
        var roomAgain = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void RequestFinished() => Interlocked.Exchange(ref roomAgain, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

        async Task UserAsync(string key, int user)
        {
            using var http = new HttpClient(handler, disposeHandler: false) { BaseAddress = portal, Timeout = TimeSpan.FromMinutes(3) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
                {
                    Content = JsonContent.Create(new { model, prompt = $"User {user} asks question {n++}:", max_tokens = maxTokens, temperature = 0.8, stream = true }),
                };
                var clock = Stopwatch.StartNew();
                try
                {
                    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                    if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable)
                    {
                        if (response.StatusCode == HttpStatusCode.TooManyRequests) Interlocked.Increment(ref refused); else Interlocked.Increment(ref busy);
                        try { await Volatile.Read(ref roomAgain).Task.WaitAsync(stop.Token); }
                        catch (OperationCanceledException) { }
                        continue;
                    }
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        Interlocked.Increment(ref failed);
                        var body = await response.Content.ReadAsStringAsync();
                        lock (errors) if (errors.Count < 5) errors.Add($"{(int)response.StatusCode}: {body}");
                        RequestFinished();
                        continue;
                    }
                    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
                    double? first = null;
                    while (await reader.ReadLineAsync() is { } line)
                    {
                        if (first is null && line.StartsWith("data: {", StringComparison.Ordinal)) first = clock.Elapsed.TotalMilliseconds;
                        if (line == "data: [DONE]") break;
                    }
                    if (first is null) throw new InvalidOperationException("the stream ended without a token");
                    lock (firstTokens) firstTokens.Add(first.Value);
                    Interlocked.Increment(ref completed);
                    RequestFinished();
                }
                catch (Exception e) when (e is HttpRequestException or IOException or InvalidOperationException or TaskCanceledException)
                {
                    Interlocked.Increment(ref failed);
                    lock (errors) if (errors.Count < 5) errors.Add(e.Message);
                    RequestFinished();
                }
            }
        }

        await Task.WhenAll(keys.Select((key, i) => Task.Run(() => UserAsync(key, i))));
        return new LoadReport(keys.Count, end.Elapsed, completed, refused, busy, failed, firstTokens, errors);
    }
}
