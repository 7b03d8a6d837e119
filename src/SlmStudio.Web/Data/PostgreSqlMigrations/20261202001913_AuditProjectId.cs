using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SlmStudio.Web.Data.PostgreSqlMigrations
{
    /// <inheritdoc />
    public partial class AuditProjectId : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "OriginalDeletedAt",
                table: "DataFiles",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "ProjectId",
                table: "AuditLog",
                type: "integer",
                nullable: true);

            // Entries written before this column existed named their project in a "[project N] " prefix of the detail.
            migrationBuilder.Sql("""
                UPDATE "AuditLog"
                SET "ProjectId" = CAST(substring("Detail" from '^\[project ([0-9]+)\]') AS INTEGER),
                    "Detail" = ltrim(substring("Detail" from position(']' in "Detail") + 1))
                WHERE "Detail" ~ '^\[project [0-9]+\]';
                """);

            migrationBuilder.CreateIndex(
                name: "IX_AuditLog_ProjectId_Id",
                table: "AuditLog",
                columns: new[] { "ProjectId", "Id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_AuditLog_ProjectId_Id",
                table: "AuditLog");

            migrationBuilder.DropColumn(
                name: "OriginalDeletedAt",
                table: "DataFiles");

            migrationBuilder.Sql("""
                UPDATE "AuditLog" SET "Detail" = '[project ' || "ProjectId" || '] ' || "Detail" WHERE "ProjectId" IS NOT NULL;
                """);

            migrationBuilder.DropColumn(
                name: "ProjectId",
                table: "AuditLog");
        }
    }
}
