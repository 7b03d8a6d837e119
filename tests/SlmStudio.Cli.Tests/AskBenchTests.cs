using System.Text.Json;

namespace SlmStudio.Cli.Tests;

/// <summary><c>slm bench ask</c> at its smallest size: the report's shape and the built-in question set, not the speed.</summary>
public sealed class AskBenchTests
{
    [Fact]
    public void Bench_ask_builds_an_index_of_generated_documents_and_reports_latency_size_and_recall()
    {
        var (exit, stdout, stderr) = AskCommandTests.Slm("bench", "ask", "--mb", "1", "--users", "2", "--seconds", "1", "--json");
        Assert.True(exit == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        var documents = json.GetProperty("documents");
        Assert.Equal(3, documents.GetProperty("files").GetInt32()); // one generated megabyte, the handbook and the expenses policy
        Assert.InRange(documents.GetProperty("megabytes").GetDouble(), 1.0, 1.1);
        Assert.True(documents.GetProperty("passages").GetInt32() > 100);
        var build = json.GetProperty("build");
        Assert.True(build.GetProperty("indexMegabytes").GetDouble() > 0);
        Assert.True(build.GetProperty("passagesMegabytes").GetDouble() > 0);
        var queries = json.GetProperty("queries");
        Assert.Equal(2, queries.GetProperty("users").GetInt32());
        Assert.True(queries.GetProperty("count").GetInt32() >= 2); // every user asks at least once
        Assert.True(queries.GetProperty("p95Ms").GetDouble() >= queries.GetProperty("medianMs").GetDouble());
        var recall = json.GetProperty("recall");
        Assert.Equal(16, recall.GetProperty("questions").GetInt32());
        // The handbook's questions find their sections among a megabyte of generated policy text.
        Assert.True(recall.GetProperty("recallAt3").GetDouble() >= 0.9, stdout);
        Assert.True(json.GetProperty("machine").GetProperty("cores").GetInt32() > 0);
    }
}
