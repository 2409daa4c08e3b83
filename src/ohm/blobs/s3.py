"""Blobs in any S3-compatible store (AWS S3, MinIO, R2, Supabase Storage's S3 API) through boto3.

Credentials come from boto3's usual places (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
profiles, instance roles).  One PUT writes a whole object, so a blob is never
visible half-written; uploads go straight to their content key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import BinaryIO

import boto3
from anyio import to_thread
from botocore.exceptions import ClientError


class S3BlobStore:
    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None,
                 region: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    async def put(self, key: str, source: BinaryIO) -> bool:
        if await self.exists(key):
            return False
        source.seek(0)
        await to_thread.run_sync(lambda: self.client.upload_fileobj(source, self.bucket, self._key(key)))
        return True

    async def exists(self, key: str) -> bool:
        try:
            await to_thread.run_sync(lambda: self.client.head_object(Bucket=self.bucket, Key=self._key(key)))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    async def read(self, key: str) -> bytes:
        response = await to_thread.run_sync(lambda: self.client.get_object(Bucket=self.bucket, Key=self._key(key)))
        return await to_thread.run_sync(response["Body"].read)

    async def open(self, key: str) -> AsyncIterator[bytes]:
        from ohm.blobs import CHUNK

        try:
            response = await to_thread.run_sync(lambda: self.client.get_object(Bucket=self.bucket, Key=self._key(key)))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(key) from None
            raise
        body = response["Body"]

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while chunk := await to_thread.run_sync(body.read, CHUNK):
                    yield chunk
            finally:
                body.close()

        return chunks()

    async def delete(self, key: str) -> None:
        await to_thread.run_sync(lambda: self.client.delete_object(Bucket=self.bucket, Key=self._key(key)))

    async def listing(self) -> list[tuple[str, datetime]]:
        def collect() -> list[tuple[str, datetime]]:
            out = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else ""):
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix) + 1:] if self.prefix else item["Key"]
                    out.append((key, item["LastModified"]))
            return out

        return await to_thread.run_sync(collect)
